package dkv.scorers.model.glm;

import dkv.scorers.model.LoadedModelBasics;
import dkv.scorers.model.BatchGeometry;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.model.ModelFamily;
import dkv.scorers.model.ModelSnapshot;
import dkv.scorers.model.Positions;
import dkv.scorers.model.PrefixLm;
import dkv.scorers.model.Rope;
import dkv.scorers.model.Rope2D;
import dkv.scorers.model.WeightLoader;
import dkv.scorers.model.Window;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * ChatGLM-6B (THUDM/chatglm-6b, first version) in one file, in the published {@code modeling_chatglm.py}'s data-flow
 * order: LayerNorm with bias → attention (fused per-head QKV, 2D RoPE, 1/√head_dim) → residual from the
 * <em>normed</em> input scaled by α = √56 → LayerNorm → MLP (GeLU, tanh form) → the same residual → final LayerNorm →
 * the separate {@code lm_head}. Weights come from the snapshot's {@code .bin} shards (fp16 matrices, fp32 LayerNorms),
 * cast to the model dtype. Verified facts and the float64 reference: ops/reference/README.md, glm_reference.py.
 *
 * <p>The model is a {@link PrefixLm}: callers declare the prompt's bidirectional span with
 * {@code AttentionMask.prefixLm} and pass 2D positions ({@code Positions.twoD(position, block)}); 1D positions are
 * refused. The scorer's {@code PromptLayout} builds both for a prompt and its continuation.
 */
public final class GlmFamily implements ModelFamily {

    public static final GlmFamily INSTANCE = new GlmFamily();

    private GlmFamily() {
    }

    @Override
    public String name() {
        return "glm";
    }

    @Override
    public Set<String> modelTypes() {
        return Set.of("chatglm");
    }

    @Override
    public Set<String> architectures() {
        return Set.of("ChatGLMModel", "ChatGLMForConditionalGeneration");
    }

    @Override
    public PrefixLm load(ModelSnapshot snapshot, Device device, DType dtype) {
        GlmConfig c = GlmConfig.read(snapshot.config());
        if (!dtype.isFloatingPoint()) throw new IllegalArgumentException("model dtype must be floating point, got " + dtype);
        return Model.load(snapshot, c, device, dtype);
    }

    // ------------------------------------------------------------------------------------------ LayerNorm

    /**
     * torch.nn.LayerNorm over the last dim (biased variance, weight and bias), statistics and affine in float32 as
     * torch's kernels do for 16-bit inputs; the result in x's dtype.
     */
    static Tensor layerNorm(Tensor x, Norm norm, double eps) {
        // weight and bias share x's dtype (cast on load), so libtorch's fused kernel applies
        return Ops.layerNorm(x, norm.weight(), norm.bias(), eps);
    }

    /** A LayerNorm's parameters ({@code <name>.weight}, {@code <name>.bias}). */
    record Norm(Tensor weight, Tensor bias) {}

    // ------------------------------------------------------------------------------------------ attention

    /** Output of one attention block: the dense output, this layer's cache entries (past + new), head-mean probabilities. */
    record AttentionOutput(Tensor output, Tensor keys, Tensor values, Tensor headMeanProbabilities) {}

    /**
     * SelfAttention: {@code query_key_value} [3·hidden, hidden] is laid out per head — the output viewed as
     * [.., heads, 3·headDim] splits into q | k | v inside each head (not q rows, then k, then v as in Llama).
     */
    record Attention(Tensor qkv, Tensor qkvBias, Tensor dense, Tensor denseBias, int heads, int headDim) {

        /**
         * @param x        [B, n, hidden], the normed input
         * @param cos,sin  2D RoPE tables of the new tokens in x's dtype, [B, 1, n, headDim] (sin signed: {@link Rope.Tables})
         * @param mask     bool [B, 1, n, past + n] from {@link BatchGeometry}, or null with {@code causal}
         */
        AttentionOutput forward(Tensor x, Rope2D rope, Tensor cos, Tensor sin, BatchGeometry g, int layer,
                                Tensor mask, boolean causal, boolean wantProbs) {
            long batch = x.size(0);
            long n = x.size(1);
            AttentionOutput result;
            try (TensorScope scope = TensorScope.open()) {
                Tensor mixed = Ops.reshape(Ops.linear(x, qkv, qkvBias), batch, n, heads, 3L * headDim);
                Tensor query = Ops.transpose(Ops.narrow(mixed, -1, 0, headDim), 1, 2);
                Tensor key = Ops.transpose(Ops.narrow(mixed, -1, headDim, headDim), 1, 2);
                Tensor value = Ops.transpose(Ops.narrow(mixed, -1, 2L * headDim, headDim), 1, 2);
                query = rope.apply(query, cos, sin);
                key = rope.apply(key, cos, sin);
                Tensor keys = g.withPast(layer, true, key);
                Tensor values = g.withPast(layer, false, value);
                // The published attention_fn divides q by √d·(layer+1), fills masked scores with -10000, and multiplies
                // the layer coefficient back in float32 before a float32 softmax: scores q·k/√d, masked keys at
                // -10000·(layer+1). Every query row sees at least itself, so those keys get exactly 0 after the softmax,
                // as with SDPA's -inf; SDPA's kernels accumulate the softmax in float32 for 16-bit inputs, and the
                // explicit path (probabilities wanted) computes scores and softmax in float32.
                double scale = 1.0 / Math.sqrt(headDim);
                Tensor attended;
                Tensor probs = null;
                if (wantProbs) {
                    Ops.Attention a = Ops.attentionWithProbs(query, keys, values, mask, scale);
                    attended = a.output();
                    probs = scope.keep(Ops.meanLastDim(Ops.permute(a.probabilities(), 0, 2, 3, 1), false));
                } else {
                    attended = Ops.sdpa(query, keys, values, mask, causal, scale);
                }
                Tensor merged = Ops.reshape(Ops.transpose(attended, 1, 2), batch, n, (long) heads * headDim);
                result = new AttentionOutput(scope.keep(Ops.linear(merged, dense, denseBias)), scope.keep(keys),
                        scope.keep(values), probs);
            }
            return result;
        }
    }

    // ------------------------------------------------------------------------------------------ MLP

    /** GLU-free MLP: {@code dense_4h_to_h(gelu(dense_h_to_4h(x)))}, GeLU in its tanh form ({@code gelu_impl}). */
    record Mlp(Tensor up, Tensor upBias, Tensor down, Tensor downBias) {
        Tensor forward(Tensor x) {
            Tensor result;
            try (TensorScope scope = TensorScope.open()) {
                result = scope.keep(Ops.linear(Ops.geluTanh(Ops.linear(x, up, upBias)), down, downBias));
            }
            return result;
        }
    }

    // ------------------------------------------------------------------------------------------ GLMBlock

    record Layer(Norm inputNorm, Attention attention, Norm postAttentionNorm, Mlp mlp) {

        List<Tensor> tensors() {
            Attention a = attention;
            return List.of(inputNorm.weight(), inputNorm.bias(), a.qkv(), a.qkvBias(), a.dense(), a.denseBias(),
                    postAttentionNorm.weight(), postAttentionNorm.bias(), mlp.up(), mlp.upBias(), mlp.down(), mlp.downBias());
        }
    }

    // ------------------------------------------------------------------------------------------ model + LM head

    static final class Model extends LoadedModelBasics<GlmLayoutTokenizer> implements PrefixLm {
        private final GlmConfig config;
        private final Rope halfRope;
        private final Rope2D rope;
        private final Tensor embed;
        private final List<Layer> layers;
        private final Norm finalNorm;
        private final Tensor lmHead;

        private Model(ModelSnapshot snapshot, GlmConfig config, Device device, DType dtype, WeightLoader loader,
                      GlmLayoutTokenizer tokenizer, Tensor embed, List<Layer> layers, Norm finalNorm, Tensor lmHead,
                      List<Tensor> owned) {
            super(INSTANCE.name(), snapshot, tokenizer, device, dtype, loader, owned);
            this.config = config;
            // both channels rotate their half of a head with the same fp16-rounded frequencies
            this.halfRope = new Rope(config.inverseFrequencies(), Rope.Pairing.HALF_SPLIT);
            this.rope = new Rope2D(halfRope);
            this.embed = embed;
            this.layers = layers;
            this.finalNorm = finalNorm;
            this.lmHead = lmHead;
        }

        static Model load(ModelSnapshot snapshot, GlmConfig c, Device device, DType dtype) {
            WeightLoader loader = new WeightLoader(snapshot.weights(), device, dtype);
            List<Tensor> owned = new ArrayList<>();
            GlmLayoutTokenizer tokenizer = null;
            try (TensorScope scope = TensorScope.open()) {
                long hid = c.hiddenSize();
                long inner = c.innerHiddenSize();
                Tensor embed = loader.load("transformer.word_embeddings.weight", c.vocabSize(), hid);
                List<Layer> layers = new ArrayList<>();
                for (int l = 0; l < c.numLayers(); l++) {
                    String p = "transformer.layers." + l + ".";
                    Attention attention = new Attention(
                            loader.load(p + "attention.query_key_value.weight", 3 * hid, hid),
                            loader.load(p + "attention.query_key_value.bias", 3 * hid),
                            loader.load(p + "attention.dense.weight", hid, hid),
                            loader.load(p + "attention.dense.bias", hid),
                            c.numHeads(), c.headDim());
                    Mlp mlp = new Mlp(
                            loader.load(p + "mlp.dense_h_to_4h.weight", inner, hid), loader.load(p + "mlp.dense_h_to_4h.bias", inner),
                            loader.load(p + "mlp.dense_4h_to_h.weight", hid, inner), loader.load(p + "mlp.dense_4h_to_h.bias", hid));
                    layers.add(new Layer(norm(loader, p + "input_layernorm", hid), attention,
                            norm(loader, p + "post_attention_layernorm", hid), mlp));
                }
                Norm finalNorm = norm(loader, "transformer.final_layernorm", hid);
                // ChatGLMForConditionalGeneration's own lm_head, stored in the checkpoint (HF ties it to the embeddings,
                // and the published values are equal, but the scorer reads what the checkpoint says)
                Tensor lmHead = loader.load("lm_head.weight", c.vocabSize(), hid);
                tokenizer = GlmLayoutTokenizer.open(snapshot.dir());
                owned.add(embed);
                owned.add(lmHead);
                owned.add(finalNorm.weight());
                owned.add(finalNorm.bias());
                for (Layer layer : layers) owned.addAll(layer.tensors());
                // the model owns its weights for its whole life: move them out of the loading scope
                owned.forEach(scope::keep);
                return new Model(snapshot, c, device, dtype, loader, tokenizer, embed, layers, finalNorm, lmHead, owned);
            } catch (RuntimeException e) {
                owned.forEach(Tensor::close);
                if (tokenizer != null) tokenizer.close();
                loader.close();
                throw e;
            }
        }

        private static Norm norm(WeightLoader loader, String name, long hidden) {
            return new Norm(loader.load(name + ".weight", hidden), loader.load(name + ".bias", hidden));
        }

        @Override
        public int layers() {
            return layers.size();
        }

        /** The 1D rotary embedding each half of every head uses (both channels share it); whole keys: {@link #rope2D()}. */
        @Override
        public Rope rope(int layer) {
            return halfRope;
        }

        @Override
        public Rope2D rope2D() {
            return rope;
        }

        /** One pass through the layers over {@link BatchGeometry}'s padded layout; per-row views come back. */
        @Override
        public List<ForwardResult> forwardBatch(List<ForwardRequest> rows) {
            GlmConfig c = config;
            if (rows.isEmpty()) return List.of();
            for (ForwardRequest r : rows) {
                if (!r.past().isEmpty() && r.past().layers() != layers.size()) {
                    throw new IllegalArgumentException("past cache has " + r.past().layers() + " layers, model " + layers.size());
                }
                if (r.cross() != null) throw new IllegalArgumentException(snapshot.dir() + ": a decoder-only model has no encoder memory");
                if (!r.positions().isTwoD() || (!r.past().isEmpty() && !r.past().positions().isTwoD())) {
                    throw new IllegalArgumentException(snapshot.dir() + ": ChatGLM-6B needs 2D positions "
                            + "(Positions.twoD(position, block)), got " + r.positions() + " after a past at " + r.past().positions());
                }
            }
            List<ForwardResult> results;
            try (TensorScope scope = TensorScope.open()) {
                BatchGeometry g = new BatchGeometry(rows, device, c.vocabSize(), List.of(Window.NONE));
                int batch = g.batch();
                int width = g.width();
                Tensor h = Ops.embedding(embed, g.ids());
                Rope.Tables t = rope.tables(Positions.twoD(g.positions(false), g.positions(true)), device);
                long d = c.headDim();
                // applied in the activations' dtype, as the published model does
                Tensor cos = Ops.reshape(Ops.to(t.cos(), dtype), batch, 1, width, d);
                Tensor sin = Ops.reshape(Ops.to(t.signedSin(), dtype), batch, 1, width, d);
                Tensor mask = g.selfMask(Window.NONE);
                boolean causalOnly = g.isCausalFastPath(Window.NONE);
                List<Tensor> keys = new ArrayList<>();
                List<Tensor> values = new ArrayList<>();
                List<Tensor> probs = new ArrayList<>();
                for (int l = 0; l < layers.size(); l++) {
                    Layer layer = layers.get(l);
                    Tensor previous = h;
                    // only the residual stream and the layer's K/V (and probabilities) outlive the layer's scope
                    try (TensorScope layerScope = TensorScope.open()) {
                        Tensor attentionInput = layerNorm(h, layer.inputNorm(), c.layernormEpsilon());
                        AttentionOutput a = layer.attention().forward(attentionInput, rope, cos, sin,
                                g, l, mask, causalOnly, g.probsWanted());
                        // GLMBlock: the residual is the normed input, scaled by alpha (not the block's input)
                        Tensor afterAttention = Ops.add(Ops.mul(attentionInput, GlmConfig.ALPHA), a.output());
                        Tensor mlpInput = layerNorm(afterAttention, layer.postAttentionNorm(), c.layernormEpsilon());
                        Tensor next = Ops.add(Ops.mul(mlpInput, GlmConfig.ALPHA), layer.mlp().forward(mlpInput));
                        h = layerScope.keep(next);
                        keys.add(layerScope.keep(a.keys()));
                        values.add(layerScope.keep(a.values()));
                        if (a.headMeanProbabilities() != null) probs.add(layerScope.keep(a.headMeanProbabilities()));
                    }
                    if (l > 0) previous.close(); // layer 0's input is the embedding output, freed with the forward
                }
                Tensor hidden = g.logitRows(h);
                Tensor logits = hidden == null ? null
                        : Ops.to(Ops.linear(layerNorm(hidden, finalNorm, c.layernormEpsilon()), lmHead), DType.FLOAT32);
                results = g.results(keys, values, probs, List.of(), logits, scope);
            }
            return results;
        }

        @Override
        public String toString() {
            return "GlmFamily.Model[" + snapshot.dir() + ", " + device + ", " + dtype + "]";
        }
    }
}
