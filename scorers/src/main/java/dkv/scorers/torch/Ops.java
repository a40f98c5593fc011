package dkv.scorers.torch;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;

/**
 * The tensor operations a transformer forward and KV-cache surgery need. Every method returns a new tensor
 * handle owned by the current {@link TensorScope} (or the caller); inputs are never consumed or modified,
 * except by {@link #copyInto}. Views ({@link #narrow}, {@link #transpose}, {@link #reshape} when possible, …)
 * share storage with their input. Binary elementwise ops broadcast like torch.
 *
 * <p>How each op reaches libtorch: views are computed here and made with {@code aoti_torch__reinterpret_tensor};
 * dtype/device moves and contiguity are {@code empty_strided + copy_}; ops whose schema has only
 * tensor/int/float/bool/optional arguments go through the boxed dispatcher; ops with Scalar or list arguments
 * use the generated {@code aoti_torch_<device>_*} fallbacks.
 */
public final class Ops {

    private Ops() {
    }

    private static TorchAbi abi() {
        return TorchRuntime.abi();
    }

    private static Tensor call(String op, String overload, Object... args) {
        return Tensor.adopt(abi().call(op, overload, 1, args)[0]);
    }

    /** The device kind whose generated fallbacks must run an op over these tensors. */
    private static Device.Kind kindOf(Tensor... ts) {
        for (Tensor t : ts) {
            if (t.device().isCuda()) {
                return Device.Kind.CUDA;
            }
        }
        return Device.Kind.CPU;
    }

    // ---------------------------------------------------------------------------------------------
    // moves and copies

    /** A new handle to the same tensor (shares storage and metadata). */
    public static Tensor alias(Tensor t) {
        return Tensor.adopt(abi().newAlias(t.handle()));
    }

    /** {@code t} converted to {@code dtype} (an alias when it already is). */
    public static Tensor to(Tensor t, DType dtype) {
        return t.dtype() == dtype ? alias(t) : copyAs(t, dtype, t.device());
    }

    /** {@code t} moved to {@code device} (an alias when it already is there). */
    public static Tensor to(Tensor t, Device device) {
        return t.device().equals(device) ? alias(t) : copyAs(t, t.dtype(), device);
    }

    /** {@code t} on {@code device} as {@code dtype}, in one copy. */
    public static Tensor to(Tensor t, DType dtype, Device device) {
        return t.dtype() == dtype && t.device().equals(device) ? alias(t) : copyAs(t, dtype, device);
    }

    /**
     * A host tensor (made from Java arrays: ids, positions, masks, RoPE tables) copied to {@code device} without
     * waiting. A plain copy from pageable host memory synchronizes the CUDA stream, so every forward's inputs
     * would stall the host until the device had finished all earlier work, and nothing the host does next
     * (the next batch's truncations, views, bookkeeping) would overlap the device's work. Pinned through the
     * caching host allocator, which keeps the staging block until the copy has run, the copy is queued instead.
     */
    public static Tensor upload(Tensor host, Device device) {
        if (!device.isCuda() || host.device().isCuda()) return to(host, device);
        TorchRuntime.get().requireDevice(device);
        try (Tensor pinned = call("aten::pin_memory", "", host.handle(), null)) {
            Tensor out = Tensors.empty(host.dtype(), device, host.shape());
            abi().copyIntoAsync(out.handle(), pinned.handle());
            return out;
        }
    }

    /** A row-major copy of {@code t}, or an alias when it already is row-major. */
    public static Tensor contiguous(Tensor t) {
        return t.isContiguous() ? alias(t) : copyAs(t, t.dtype(), t.device());
    }

    private static Tensor copyAs(Tensor t, DType dtype, Device device) {
        TorchRuntime.get().requireDevice(device);
        Tensor out = Tensors.empty(dtype, device, t.shape());
        abi().copyInto(out.handle(), t.handle());
        return out;
    }

    /** Copies {@code src} (broadcast, converted) into {@code dst} in place — e.g. into a view of a KV cache. */
    public static void copyInto(Tensor dst, Tensor src) {
        abi().copyInto(dst.handle(), src.handle());
    }

    // ---------------------------------------------------------------------------------------------
    // views (no copy)

    private static Tensor view(Tensor t, long[] sizes, long[] strides, long offsetIncrement) {
        return Tensor.adopt(abi().reinterpret(t.handle(), sizes, strides, offsetIncrement));
    }

    /** Elements {@code start .. start+length-1} along {@code dim}. */
    public static Tensor narrow(Tensor t, int dim, long start, long length) {
        int d = t.normalizeDim(dim);
        long size = t.size(d);
        if (start < 0) {
            start += size;
        }
        if (start < 0 || length < 0 || start + length > size) {
            throw new IndexOutOfBoundsException("narrow(dim=" + dim + ", start=" + start + ", length=" + length
                    + ") out of range for " + t);
        }
        long[] sizes = t.shape();
        long[] strides = t.strides();
        sizes[d] = length;
        return view(t, sizes, strides, start * strides[d]);
    }

    /** The sub-tensor at {@code index} along {@code dim}, which is removed. */
    public static Tensor select(Tensor t, int dim, long index) {
        int d = t.normalizeDim(dim);
        long size = t.size(d);
        long i = index < 0 ? index + size : index;
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("select(dim=" + dim + ", index=" + index + ") out of range for " + t);
        }
        long[] sizes = t.shape();
        long[] strides = t.strides();
        long offset = i * strides[d];
        return view(t, remove(sizes, d), remove(strides, d), offset);
    }

    public static Tensor transpose(Tensor t, int dim0, int dim1) {
        int a = t.normalizeDim(dim0);
        int b = t.normalizeDim(dim1);
        long[] sizes = t.shape();
        long[] strides = t.strides();
        swap(sizes, a, b);
        swap(strides, a, b);
        return view(t, sizes, strides, 0);
    }

    /** Reorders dimensions: result dim i is input dim {@code dims[i]}. */
    public static Tensor permute(Tensor t, int... dims) {
        int n = t.dim();
        if (dims.length != n) {
            throw new IllegalArgumentException("permute" + Arrays.toString(dims) + " for a " + n + "-d tensor");
        }
        long[] sizes = t.shape();
        long[] strides = t.strides();
        long[] newSizes = new long[n];
        long[] newStrides = new long[n];
        boolean[] seen = new boolean[n];
        for (int i = 0; i < n; i++) {
            int d = t.normalizeDim(dims[i]);
            if (seen[d]) {
                throw new IllegalArgumentException("permute" + Arrays.toString(dims) + " repeats dim " + d);
            }
            seen[d] = true;
            newSizes[i] = sizes[d];
            newStrides[i] = strides[d];
        }
        return view(t, newSizes, newStrides, 0);
    }

    /** Inserts a size-1 dimension at {@code dim} (0..dim()); for {@link #sumLastDim} and {@link #repeatKvHeads}. */
    public static Tensor unsqueeze(Tensor t, int dim) {
        int n = t.dim();
        int d = dim < 0 ? dim + n + 1 : dim;
        if (d < 0 || d > n) {
            throw new IndexOutOfBoundsException("unsqueeze(" + dim + ") for a " + n + "-d tensor");
        }
        long[] sizes = t.shape();
        long[] strides = t.strides();
        long stride = d < n ? sizes[d] * strides[d] : 1;
        return view(t, insert(sizes, d, 1), insert(strides, d, stride), 0);
    }

    /** Broadcasts to {@code shape} without copying (-1 keeps a size; new leading dims allowed). */
    public static Tensor expand(Tensor t, long... shape) {
        long[] sizes = t.shape();
        long[] strides = t.strides();
        int lead = shape.length - sizes.length;
        if (lead < 0) {
            throw new IllegalArgumentException("expand to " + Arrays.toString(shape) + " has fewer dims than " + t);
        }
        long[] newStrides = new long[shape.length];
        long[] newSizes = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            int src = i - lead;
            long target = shape[i];
            if (src < 0) {
                if (target < 0) {
                    throw new IllegalArgumentException("expand: -1 not allowed for a new leading dim");
                }
                newSizes[i] = target;
                newStrides[i] = 0;
            } else if (target == -1 || target == sizes[src]) {
                newSizes[i] = sizes[src];
                newStrides[i] = strides[src];
            } else if (sizes[src] == 1) {
                newSizes[i] = target;
                newStrides[i] = 0;
            } else {
                throw new IllegalArgumentException("expand " + t + " to " + Arrays.toString(shape)
                        + ": size " + sizes[src] + " at dim " + src + " is not 1");
            }
        }
        return view(t, newSizes, newStrides, 0);
    }

    /**
     * {@code t} with a new shape (one -1 is inferred): a view when the strides allow it (torch's rule),
     * else a row-major copy.
     */
    public static Tensor reshape(Tensor t, long... shape) {
        long[] target = inferShape(shape, t.numel(), t);
        long[] strides = viewStrides(t.shape(), t.strides(), target);
        if (strides != null) {
            return view(t, target, strides, 0);
        }
        try (Tensor c = copyAs(t, t.dtype(), t.device())) {
            return view(c, target, Tensors.contiguousStrides(target), 0);
        }
    }

    private static long[] inferShape(long[] shape, long numel, Tensor t) {
        long[] out = shape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < out.length; i++) {
            if (out[i] == -1) {
                if (infer >= 0) {
                    throw new IllegalArgumentException("reshape " + t + " to " + Arrays.toString(shape) + ": two -1");
                }
                infer = i;
            } else if (out[i] < 0) {
                throw new IllegalArgumentException("reshape to " + Arrays.toString(shape) + ": negative size");
            } else {
                known *= out[i];
            }
        }
        if (infer >= 0) {
            if (known == 0 || numel % known != 0) {
                throw new IllegalArgumentException("reshape " + t + " to " + Arrays.toString(shape) + ": cannot infer -1");
            }
            out[infer] = numel / known;
        } else if (known != numel) {
            throw new IllegalArgumentException("reshape " + t + " (" + numel + " elements) to " + Arrays.toString(shape));
        }
        return out;
    }

    /** Strides that view (oldShape, oldStrides) as newShape, or null when a copy is needed (ATen's computeStride). */
    static long[] viewStrides(long[] oldShape, long[] oldStrides, long[] newShape) {
        long[] newStrides = new long[newShape.length];
        if (oldShape.length == 0) {
            Arrays.fill(newStrides, 1);
            return newStrides;
        }
        if (Tensors.numel(oldShape) == 0) {
            return Tensors.contiguousStrides(newShape);
        }
        int viewD = newShape.length - 1;
        long chunkBaseStride = oldStrides[oldStrides.length - 1];
        long tensorNumel = 1;
        long viewNumel = 1;
        for (int tensorD = oldShape.length - 1; tensorD >= 0; tensorD--) {
            tensorNumel *= oldShape[tensorD];
            if (tensorD == 0 || (oldShape[tensorD - 1] != 1
                    && oldStrides[tensorD - 1] != tensorNumel * chunkBaseStride)) {
                while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] == 1)) {
                    newStrides[viewD] = viewNumel * chunkBaseStride;
                    viewNumel *= newShape[viewD];
                    viewD--;
                }
                if (viewNumel != tensorNumel) {
                    return null;
                }
                if (tensorD > 0) {
                    chunkBaseStride = oldStrides[tensorD - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        return viewD == -1 ? newStrides : null;
    }

    // ---------------------------------------------------------------------------------------------
    // joining

    /** Concatenation along {@code dim} (all on one device, same dtype). */
    /** Tensors one shim call concatenates; {@link #cat} splits longer lists into chunks of this size. */
    public static final int CAT_CHUNK = TorchAbi.MAX_CAT;

    public static Tensor cat(int dim, Tensor... ts) {
        if (ts.length == 0) {
            throw new IllegalArgumentException("cat of no tensors");
        }
        int limit = CAT_CHUNK;
        if (ts.length > limit) {
            // The shim call takes its list from a fixed-size scratch buffer: concatenate in chunks, then the chunks.
            List<Tensor> chunks = new java.util.ArrayList<>();
            try {
                for (int from = 0; from < ts.length; from += limit) {
                    chunks.add(cat(dim, java.util.Arrays.copyOfRange(ts, from, Math.min(ts.length, from + limit))));
                }
                return cat(dim, chunks);
            } finally {
                chunks.forEach(Tensor::close);
            }
        }
        MemorySegment[] handles = new MemorySegment[ts.length];
        for (int i = 0; i < ts.length; i++) {
            handles[i] = ts[i].handle();
        }
        int d = ts[0].normalizeDim(dim);
        return Tensor.adopt(abi().cat(kindOf(ts), handles, d));
    }

    public static Tensor cat(int dim, List<Tensor> ts) {
        return cat(dim, ts.toArray(Tensor[]::new));
    }

    // ---------------------------------------------------------------------------------------------
    // elementwise

    public static Tensor add(Tensor a, Tensor b) {
        return Tensor.adopt(abi().addTensor(kindOf(a, b), a.handle(), b.handle(), 1.0));
    }

    public static Tensor sub(Tensor a, Tensor b) {
        return Tensor.adopt(abi().addTensor(kindOf(a, b), a.handle(), b.handle(), -1.0));
    }

    public static Tensor mul(Tensor a, Tensor b) {
        return call("aten::mul", "Tensor", a.handle(), b.handle());
    }

    public static Tensor div(Tensor a, Tensor b) {
        return call("aten::div", "Tensor", a.handle(), b.handle());
    }

    public static Tensor add(Tensor a, double b) {
        return Tensor.adopt(abi().addScalar(kindOf(a), a.handle(), b));
    }

    public static Tensor mul(Tensor a, double b) {
        return Tensor.adopt(abi().mulScalar(kindOf(a), a.handle(), b));
    }

    /** {@code a * a}. */
    public static Tensor square(Tensor a) {
        return mul(a, a);
    }

    public static Tensor abs(Tensor a) {
        return call("aten::abs", "", a.handle());
    }

    public static Tensor rsqrt(Tensor a) {
        return call("aten::rsqrt", "", a.handle());
    }

    public static Tensor tanh(Tensor a) {
        return call("aten::tanh", "", a.handle());
    }

    public static Tensor cos(Tensor a) {
        return call("aten::cos", "", a.handle());
    }

    public static Tensor sin(Tensor a) {
        return call("aten::sin", "", a.handle());
    }

    /** {@code x * sigmoid(x)} (SwiGLU's activation). */
    public static Tensor silu(Tensor a) {
        return call("aten::silu", "", a.handle());
    }

    /**
     * Whether ops with list or string arguments go to libtorch's own kernels (one fused kernel for a norm or a GELU)
     * rather than to their composite forms here: when the library's dispatcher takes such arguments (2.10+), unless
     * {@code -Ddkv.composite-ops=true} asks for the composites (to compare the two on one machine). Both forms
     * compute in the input's precision (float32 internally for 16-bit inputs) and agree to float32 rounding.
     */
    static boolean fusedKernels() {
        return !COMPOSITE_OPS && abi().takesListsAndStrings();
    }

    private static final boolean COMPOSITE_OPS = Boolean.getBoolean("dkv.composite-ops");

    /**
     * GELU, tanh approximation ({@code gelu_pytorch_tanh}: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))), computed
     * in float32 for 16-bit inputs as torch does: {@code aten::gelu(approximate="tanh")}, or the formula spelled out
     * where the dispatcher cannot pass the string (libtorch 2.7).
     */
    public static Tensor geluTanh(Tensor x) {
        if (fusedKernels()) return call("aten::gelu", "", x.handle(), new TorchAbi.Str("tanh"));
        DType dtype = x.dtype();
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor xf = dtype.isReducedPrecision() ? to(x, DType.FLOAT32) : x;
            Tensor cubic = add(mul(square(xf), 0.044715), 1.0);           // 1 + 0.044715·x²
            Tensor inner = mul(mul(xf, cubic), Math.sqrt(2.0 / Math.PI));   // √(2/π)·(x + 0.044715·x³)
            Tensor gate = add(tanh(inner), 1.0);
            Tensor y = mul(mul(xf, 0.5), gate);
            result = scope.keep(dtype.isReducedPrecision() ? to(y, dtype) : y);
        }
        return result;
    }

    /**
     * RMS normalisation over the last dim: {@code x · rsqrt(mean(x²) + eps)}, times {@code weight} when given, in
     * float32 for 16-bit inputs and returned in x's dtype ({@code aten::rms_norm}, one kernel; composite on libtorch
     * 2.7). Callers whose reference rounds between steps (HF Llama casts before the weight) convert x themselves.
     */
    public static Tensor rmsNorm(Tensor x, Tensor weight, double eps) {
        if (fusedKernels()) {
            return call("aten::rms_norm", "", x.handle(), new TorchAbi.Ints(x.size(-1)),
                    weight == null ? null : new TorchAbi.Some(weight.handle()), new TorchAbi.Some(eps));
        }
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor xf = opmath(x);
            Tensor normed = mul(xf, rsqrt(add(meanLastDim(square(xf), true), eps)));
            result = scope.keep(to(weight == null ? normed : mul(normed, opmath(weight)), x.dtype()));
        }
        return result;
    }

    /**
     * Layer normalisation over the last dim (biased variance): {@code (x − mean) · rsqrt(var + eps)}, then
     * {@code · weight + bias} for those given, in float32 for 16-bit inputs and returned in x's dtype
     * ({@code aten::layer_norm}, one kernel; composite on libtorch 2.7).
     */
    public static Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        if (fusedKernels()) {
            return call("aten::layer_norm", "", x.handle(), new TorchAbi.Ints(x.size(-1)),
                    weight == null ? null : new TorchAbi.Some(weight.handle()),
                    bias == null ? null : new TorchAbi.Some(bias.handle()), eps, true);
        }
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor xf = opmath(x);
            Tensor centred = sub(xf, meanLastDim(xf, true));
            Tensor normed = mul(centred, rsqrt(add(meanLastDim(square(centred), true), eps)));
            if (weight != null) normed = mul(normed, opmath(weight));
            result = scope.keep(to(bias == null ? normed : add(normed, opmath(bias)), x.dtype()));
        }
        return result;
    }

    /** t as float32 when it is 16-bit (where torch's kernels compute), else an alias. */
    private static Tensor opmath(Tensor t) {
        return t.dtype().isReducedPrecision() ? to(t, DType.FLOAT32) : alias(t);
    }

    public static Tensor erf(Tensor a) {
        return call("aten::erf", "", a.handle());
    }

    /**
     * Exact GELU ({@code gelu}, BERT's activation): 0.5·x·(1 + erf(x/√2)), computed in float32 for 16-bit inputs as
     * torch does: {@code aten::gelu(approximate="none")}, or spelled out where the string cannot be passed, as
     * {@link #geluTanh}.
     */
    public static Tensor gelu(Tensor x) {
        if (fusedKernels()) return call("aten::gelu", "", x.handle(), new TorchAbi.Str("none"));
        DType dtype = x.dtype();
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor xf = dtype.isReducedPrecision() ? to(x, DType.FLOAT32) : x;
            Tensor gate = add(erf(mul(xf, Math.sqrt(0.5))), 1.0);
            Tensor y = mul(mul(xf, 0.5), gate);
            result = scope.keep(dtype.isReducedPrecision() ? to(y, dtype) : y);
        }
        return result;
    }

    /** Logical not of a bool tensor; for {@link #attentionWithProbs}. */
    public static Tensor logicalNot(Tensor a) {
        return call("aten::logical_not", "", a.handle());
    }

    /** {@code a >= b}, elementwise with broadcasting (bool). */
    public static Tensor ge(Tensor a, Tensor b) {
        return call("aten::ge", "Tensor", a.handle(), b.handle());
    }

    /** {@code a <= b}, elementwise with broadcasting (bool). */
    public static Tensor le(Tensor a, Tensor b) {
        return call("aten::le", "Tensor", a.handle(), b.handle());
    }

    /** {@code a < b}, elementwise with broadcasting (bool). */
    public static Tensor lt(Tensor a, Tensor b) {
        return call("aten::lt", "Tensor", a.handle(), b.handle());
    }

    /** {@code a == b}, elementwise with broadcasting (bool). */
    public static Tensor eq(Tensor a, Tensor b) {
        return call("aten::eq", "Tensor", a.handle(), b.handle());
    }

    /** Logical and of two bool tensors, with broadcasting. */
    public static Tensor logicalAnd(Tensor a, Tensor b) {
        return call("aten::logical_and", "", a.handle(), b.handle());
    }

    /** {@code condition ? a : b}, elementwise with broadcasting. */
    public static Tensor where(Tensor condition, Tensor a, Tensor b) {
        return call("aten::where", "self", condition.handle(), a.handle(), b.handle());
    }

    /** {@code t} with {@code value} wherever {@code mask} is true; for {@link #attentionWithProbs}. */
    public static Tensor maskedFill(Tensor t, Tensor mask, double value) {
        try (Tensor v = Tensors.scalar(value)) {
            return call("aten::masked_fill", "Tensor", t.handle(), mask.handle(), v.handle());
        }
    }

    // ---------------------------------------------------------------------------------------------
    // reductions over the last dimension

    /**
     * Sum over the last dimension, as a matrix-vector product with a ones vector (libtorch 2.7's dispatcher
     * cannot pass {@code sum.dim_IntList}'s list). 16-bit inputs are summed in float32 (GEMMs may otherwise
     * reduce in half precision); the result has t's dtype. For {@link #meanLastDim}.
     */
    public static Tensor sumLastDim(Tensor t, boolean keepDim) {
        DType dtype = t.dtype();
        if (dtype.isReducedPrecision()) {
            Tensor result;
            try (TensorScope scope = TensorScope.open()) {
                result = scope.keep(to(sumLastDim(to(t, DType.FLOAT32), keepDim), dtype));
            }
            return result;
        }
        Tensor s = call("aten::matmul", "", t.handle(), onesVector(dtype, t.device(), t.size(-1)));
        if (!keepDim) {
            return s;
        }
        try (s) {
            return unsqueeze(s, -1);
        }
    }

    private record OnesKey(DType dtype, Device device, long length) {
    }

    /**
     * Ones vectors for {@link #sumLastDim}, made once per (dtype, device, length) and kept for the life of the
     * process: a handful of hidden-size vectors, not per-call garbage. Raw handles, so they are not counted
     * in {@link Tensor#liveHandles()}.
     */
    private static final java.util.concurrent.ConcurrentHashMap<OnesKey, MemorySegment> ONES =
            new java.util.concurrent.ConcurrentHashMap<>();

    private static MemorySegment onesVector(DType dtype, Device device, long length) {
        return ONES.computeIfAbsent(new OnesKey(dtype, device, length), key -> {
            TorchAbi abi = abi();
            MemorySegment ones = abi.emptyStrided(new long[]{length}, new long[]{1}, abi.code(dtype),
                    abi.deviceTypeCode(device), abi.deviceIndexCode(device));
            MemorySegment one = abi.scalarTensor(1.0);
            try {
                abi.delete(abi.call("aten::fill_", "Tensor", 1, ones, one)[0]);
            } finally {
                abi.delete(one);
            }
            return ones;
        });
    }

    /**
     * Mean over the last dimension: a sum computed as a matrix-vector product with a cached ones vector, then
     * scaled (16-bit inputs are averaged in float32).
     */
    public static Tensor meanLastDim(Tensor t, boolean keepDim) {
        DType dtype = t.dtype();
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = dtype.isReducedPrecision() ? to(t, DType.FLOAT32) : t;
            result = scope.keep(to(mul(sumLastDim(x, keepDim), 1.0 / t.size(-1)), dtype));
        }
        return result;
    }

    /** Index of the maximum along {@code dim} (int64). */
    public static Tensor argmax(Tensor t, int dim, boolean keepDim) {
        return call("aten::argmax", "", t.handle(), new TorchAbi.Some((long) t.normalizeDim(dim)), keepDim);
    }

    /** Maximum values along {@code dim}. */
    public static Tensor max(Tensor t, int dim, boolean keepDim) {
        MemorySegment[] r = abi().call("aten::max", "dim", 2, t.handle(), (long) t.normalizeDim(dim), keepDim);
        abi().delete(r[1]);
        return Tensor.adopt(r[0]);
    }


    /** Softmax along {@code dim}, in t's dtype. */
    public static Tensor softmax(Tensor t, int dim) {
        return call("aten::_softmax", "", t.handle(), (long) t.normalizeDim(dim), false);
    }

    /** Log-softmax along {@code dim}, in t's dtype (convert to float32 first for NLL of 16-bit logits). */
    public static Tensor logSoftmax(Tensor t, int dim) {
        return call("aten::_log_softmax", "", t.handle(), (long) t.normalizeDim(dim), false);
    }

    // ---------------------------------------------------------------------------------------------
    // indexing

    /** Rows of {@code weight} [V, H] picked by {@code ids} (int64, any shape) → [..., H]. */
    public static Tensor embedding(Tensor weight, Tensor ids) {
        return call("aten::embedding", "", weight.handle(), ids.handle(), -1L, false, false);
    }

    /** Entries along {@code dim} at the 1-d int64 {@code index}. */
    public static Tensor indexSelect(Tensor t, int dim, Tensor index) {
        return call("aten::index_select", "", t.handle(), (long) t.normalizeDim(dim), index.handle());
    }

    /** {@code out[i][j] = t[i][index[i][j]]} along {@code dim} (torch.gather). */
    public static Tensor gather(Tensor t, int dim, Tensor index) {
        return call("aten::gather", "", t.handle(), (long) t.normalizeDim(dim), index.handle(), false);
    }

    // ---------------------------------------------------------------------------------------------
    // linear algebra

    /** torch.matmul: batched, broadcasting, 1-d operands as vectors. */
    public static Tensor matmul(Tensor a, Tensor b) {
        return call("aten::matmul", "", a.handle(), b.handle());
    }

    /** {@code x · wᵀ} with {@code w} [out, in] as stored in checkpoints. */
    public static Tensor linear(Tensor x, Tensor w) {
        return call("aten::linear", "", x.handle(), w.handle(), null);
    }

    /** {@code x · wᵀ + bias}. */
    public static Tensor linear(Tensor x, Tensor w, Tensor bias) {
        return call("aten::linear", "", x.handle(), w.handle(), new TorchAbi.Some(bias.handle()));
    }

    // ---------------------------------------------------------------------------------------------
    // attention

    /**
     * Fused scaled-dot-product attention ({@code torch.nn.functional.scaled_dot_product_attention}: libtorch
     * picks flash / memory-efficient / math / CPU-flash). Shapes [B, H, Lq, D], [B, H, Lk, D], [B, H, Lk, Dv]
     * (repeat K/V heads for GQA first, see {@link #repeatKvHeads}).
     *
     * @param mask     null, a bool mask (true = may attend) or an additive float mask (converted to q's dtype,
     *                 as the fused kernels require), broadcastable to [B, H, Lq, Lk]
     * @param isCausal torch's top-left-aligned causal mask; use an explicit mask when Lq != Lk
     * @param scale    multiplier of q·kᵀ (usually 1/√D)
     */
    public static Tensor sdpa(Tensor q, Tensor k, Tensor v, Tensor mask, boolean isCausal, double scale) {
        return sdpa(q, k, v, mask, isCausal, scale, false);
    }

    /** With {@code enableGqa}, k and v may have fewer heads than q (a divisor): each serves its group of query heads. */
    private static Tensor sdpa(Tensor q, Tensor k, Tensor v, Tensor mask, boolean isCausal, double scale, boolean enableGqa) {
        if (mask != null && mask.dtype() != DType.BOOL && mask.dtype() != q.dtype()) {
            try (Tensor converted = to(mask, q.dtype())) {
                return sdpa(q, k, v, converted, isCausal, scale, enableGqa);
            }
        }
        return call("aten::scaled_dot_product_attention", "", q.handle(), k.handle(), v.handle(),
                mask == null ? null : new TorchAbi.Some(mask.handle()), 0.0, isCausal,
                new TorchAbi.Some(scale), enableGqa);
    }

    /** Attention output and the probabilities that produced it. Both owned like any op result. */
    public record Attention(Tensor output, Tensor probabilities) {
    }

    /**
     * Explicit attention that also returns the probabilities [B, H, Lq, Lk] (float32), as HF's eager path
     * does: scores in float32, masked, softmax in float32, cast to v's dtype for the product with v.
     *
     * @param mask null, bool (true = may attend) or additive float, broadcastable to [B, H, Lq, Lk]
     */
    public static Attention attentionWithProbs(Tensor q, Tensor k, Tensor v, Tensor mask, double scale) {
        Tensor output;
        Tensor probs;
        try (TensorScope scope = TensorScope.open()) {
            Tensor qf = to(q, DType.FLOAT32);
            Tensor kf = to(k, DType.FLOAT32);
            Tensor scores = mul(matmul(qf, transpose(kf, -2, -1)), scale);
            if (mask != null) {
                scores = mask.dtype() == DType.BOOL
                        ? maskedFill(scores, logicalNot(mask), Double.NEGATIVE_INFINITY)
                        : add(scores, to(mask, DType.FLOAT32));
            }
            probs = scope.keep(softmax(scores, -1));
            output = scope.keep(matmul(to(probs, v.dtype()), v));
        }
        return new Attention(output, probs);
    }

    /**
     * Attention of {@code q} [B, H, n, D] over grouped keys and values [B, kvH, L, D] (H a multiple of kvH; query head
     * h reads kv head h / (H / kvH), as {@link #repeatKvHeads} lays them out). With a mask the query heads of each kv
     * head are folded into the query axis ([B, kvH, g·n, D], the mask repeated along it), so the keys and values are
     * read where they are instead of copied H / kvH times per call; without one (SDPA's causal flag, which the folding
     * would break) SDPA's own grouped-query mode on CUDA, repeated keys and values on the CPU. Same dot products either way.
     */
    public static Tensor groupedSdpa(Tensor q, Tensor k, Tensor v, Tensor mask, boolean isCausal, double scale) {
        long heads = q.size(1);
        long kvHeads = k.size(1);
        int groups = Math.toIntExact(heads / kvHeads);
        if (groups == 1) return sdpa(q, k, v, mask, isCausal, scale);
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            if (mask == null && q.device().isCuda()) {
                // flash attention reads each kv head for its query heads itself; the CPU kernels would fall back
                // to a different (math) path for it, so there the keys and values are repeated
                result = scope.keep(sdpa(q, k, v, null, isCausal, scale, true));
            } else if (mask == null) {
                result = scope.keep(sdpa(q, repeatKvHeads(k, groups), repeatKvHeads(v, groups), null, isCausal, scale));
            } else {
                long b = q.size(0);
                long n = q.size(2);
                long d = q.size(3);
                Tensor folded = reshape(q, b, kvHeads, groups * n, d);
                Tensor foldedMask = mask.size(2) == 1 || mask.size(2) == groups * n ? mask : foldMask(mask, groups);
                result = scope.keep(reshape(sdpa(folded, k, v, foldedMask, false, scale), b, heads, n, d));
            }
        }
        return result;
    }

    /**
     * A mask [B, 1, n, L] for {@link #groupedSdpa}'s folded query axis: [B, 1, groups·n, L], the n rows repeated for each
     * query head of a kv head. A forward folds its mask once for all layers ({@code groupedSdpa} accepts the folded
     * mask as it is) instead of once per layer.
     */
    public static Tensor foldMask(Tensor mask, int groups) {
        if (groups == 1) return alias(mask);
        long[] m = mask.shape();
        return reshape(expand(unsqueeze(mask, 2), m[0], m[1], groups, m[2], m[3]), m[0], m[1], groups * m[2], m[3]);
    }

    /** GQA: [B, Hkv, L, D] → [B, Hkv·groups, L, D], each KV head repeated {@code groups} times in place. */
    public static Tensor repeatKvHeads(Tensor kv, int groups) {
        if (groups == 1) {
            return alias(kv);
        }
        long[] s = kv.shape();
        if (s.length != 4) {
            throw new IllegalArgumentException("repeatKvHeads expects [B, H, L, D], got " + kv);
        }
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor e = expand(unsqueeze(kv, 2), s[0], s[1], groups, s[2], s[3]);
            result = scope.keep(reshape(e, s[0], s[1] * groups, s[2], s[3]));
        }
        return result;
    }

    // ---------------------------------------------------------------------------------------------

    private static long[] remove(long[] a, int i) {
        long[] out = new long[a.length - 1];
        System.arraycopy(a, 0, out, 0, i);
        System.arraycopy(a, i + 1, out, i, a.length - i - 1);
        return out;
    }

    private static long[] insert(long[] a, int i, long value) {
        long[] out = new long[a.length + 1];
        System.arraycopy(a, 0, out, 0, i);
        out[i] = value;
        System.arraycopy(a, i, out, i + 1, a.length - i);
        return out;
    }

    private static void swap(long[] a, int i, int j) {
        long t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
