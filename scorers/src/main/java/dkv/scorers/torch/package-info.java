/**
 * The scorer's compute layer: libtorch through its stable C shim, from Java via {@code java.lang.foreign}.
 *
 * <ul>
 *   <li>{@link dkv.scorers.torch.TorchRuntime} — loads libtorch once per process ({@code --libtorch DIR},
 *       {@code PYTORCH_LIBRARY_PATH}, or DJL's CPU jar on the classpath), probes every shim function the runtime
 *       uses, reports version / CUDA devices / threads.</li>
 *   <li>{@link dkv.scorers.torch.Tensor} — an owned handle ({@code AutoCloseable}); {@link dkv.scorers.torch.TensorScope}
 *       frees everything made while it is open, {@code keep(t)} moves a result out. Nothing waits for the GC;
 *       {@link dkv.scorers.torch.Tensor#liveHandles()} counts open handles for leak checks.</li>
 *   <li>{@link dkv.scorers.torch.Tensors} — tensors from/to Java arrays, {@code fromBlob} over native memory
 *       (mmapped safetensors) without copies, {@code empty}/{@code zeros}/{@code full}.</li>
 *   <li>{@link dkv.scorers.torch.Ops} — moves, views, joins, elementwise math, last-dim reductions, softmax,
 *       indexing, matmul/linear, fused {@code sdpa} and {@code attentionWithProbs}.</li>
 *   <li>{@link dkv.scorers.torch.check.OpChecks} (every op against a double-precision Java reference) and
 *       {@link dkv.scorers.torch.bench.TorchMicroBench} — runnable mains for the GPU host.</li>
 * </ul>
 *
 * <pre>{@code
 * TorchRuntime.load(Optional.empty());
 * Tensor logits;
 * try (var scope = TensorScope.open()) {
 *     Tensor x = Ops.embedding(embed, ids);                       // [B, L, H]
 *     Tensor h = Ops.linear(x, wq);                               // freed when the scope closes
 *     logits = scope.keep(Ops.logSoftmax(Ops.to(h, DType.FLOAT32), -1));
 * }
 * }</pre>
 */
package dkv.scorers.torch;
