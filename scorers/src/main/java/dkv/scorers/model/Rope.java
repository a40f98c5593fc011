package dkv.scorers.model;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;

/**
 * Rotary position embedding: the one implementation, used by the forward and by KV-cache re-rotation.
 * Which dimensions form a rotating pair is explicit ({@link Pairing}); angles are {@code invFreq[j] * position}
 * computed in float32, as HF's rotary embedding does.
 */
public final class Rope {

    /** Which dimensions of a head rotate together. */
    public enum Pairing {
        /** HF Llama/Mistral/Qwen2 {@code rotate_half}: dimension j pairs with j + d/2. */
        HALF_SPLIT,
        /** Adjacent dimensions (2j, 2j+1) pair, as in the original RoPE paper — wrong for HF Llama weights. */
        INTERLEAVED
    }

    private final float[] inverseFrequencies;
    private final Pairing pairing;

    public Rope(float[] inverseFrequencies, Pairing pairing) {
        this.inverseFrequencies = inverseFrequencies.clone();
        this.pairing = pairing;
    }

    /** The model's own pairing. */
    public Pairing pairing() {
        return pairing;
    }

    public int headDim() {
        return 2 * inverseFrequencies.length;
    }

    /**
     * cos and signed sin tables, [positions, headDim] float32, laid out for {@code pairing}: {@code signedSin} holds
     * −sin at the first dimension of each pair and +sin at the second, so a rotation is
     * {@code x·cos + swapped(x)·signedSin} ({@link #apply}) with no negation of x.
     */
    public record Tables(Tensor cos, Tensor signedSin) {

        /**
         * These tables [B·n, D] as one row per rotated head, [B, n, heads, D] in {@code dtype} and contiguous: made once
         * per forward, so that every layer's rotary pass over a [B, n, heads, D] projection reads them like the rotated
         * tensor (libtorch vectorizes an elementwise kernel only when every operand is contiguous; a broadcast table
         * over heads is not).
         */
        public Tables perHead(int batch, int width, int heads, DType dtype) {
            return new Tables(perHead(cos, batch, width, heads, dtype), perHead(signedSin, batch, width, heads, dtype));
        }

        private static Tensor perHead(Tensor table, int batch, int width, int heads, DType dtype) {
            long d = table.size(-1);
            return Ops.contiguous(Ops.expand(Ops.reshape(Ops.to(table, dtype), batch, width, 1, d), batch, width, heads, d));
        }
    }

    /**
     * Tables for the given (possibly negative) positions, on {@code device}, computed there as HF's rotary embedding
     * does: {@code float(position) · invFreq} (one float32 product per angle), then cos and sin in float32 by the
     * device's own kernels (so a GPU's tables are the ones HF computes on that GPU). One upload of the positions and
     * the frequencies; no trigonometry on the host and no per-forward table transfer.
     */
    public Tables tables(long[] positions, Pairing pairing, Device device) {
        int n = positions.length;
        int half = inverseFrequencies.length;
        float[] host = new float[n + half];
        for (int t = 0; t < n; t++) host[t] = positions[t];  // HF: position_ids.float()
        System.arraycopy(inverseFrequencies, 0, host, n, half);
        Tables result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor both = Ops.upload(Tensors.fromFloats(host, host.length), device);
            Tensor angles = Ops.mul(Ops.reshape(Ops.narrow(both, 0, 0, n), n, 1), Ops.reshape(Ops.narrow(both, 0, n, half), 1, half));
            Tensor cos = Ops.cos(angles);
            Tensor sin = Ops.sin(angles);
            Tensor minusSin = Ops.mul(sin, -1.0);  // exact negation
            // x_a' = x_a·c − x_b·s and x_b' = x_b·c + x_a·s: −sin at the first dimension of each pair, +sin at the second
            result = switch (pairing) {
                case HALF_SPLIT -> new Tables(scope.keep(Ops.cat(-1, cos, cos)), scope.keep(Ops.cat(-1, minusSin, sin)));
                case INTERLEAVED -> new Tables(scope.keep(interleaved(cos, cos)), scope.keep(interleaved(minusSin, sin)));
            };
        }
        return result;
    }

    /** [n, half] and [n, half] → [n, 2·half] with a's column j at 2j and b's at 2j + 1. */
    private static Tensor interleaved(Tensor a, Tensor b) {
        long n = a.size(0);
        long half = a.size(1);
        return Ops.reshape(Ops.cat(-1, Ops.unsqueeze(a, -1), Ops.unsqueeze(b, -1)), n, 2 * half);
    }

    /**
     * {@code x} [..., T, headDim] rotated to {@code positions} (one per row T), with the arithmetic done in
     * {@code computeType} and the result in x's dtype. The forward uses x's own dtype (as HF does);
     * cache correction uses float32.
     */
    public Tensor rotate(Tensor x, long[] positions, Pairing pairing, DType computeType) {
        if (x.size(-1) != headDim()) {
            throw new IllegalArgumentException("RoPE of head_dim " + headDim() + " applied to " + x);
        }
        if (x.size(-2) != positions.length) {
            throw new IllegalArgumentException(positions.length + " positions for " + x.size(-2) + " rows of " + x);
        }
        return rotateWith(x, positions, pairing, computeType);
    }

    /** {@code x} rotated by the tables of {@code tablePositions}: one per row of x, or one for all of them. */
    private Tensor rotateWith(Tensor x, long[] tablePositions, Pairing pairing, DType computeType) {
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tables t = tables(tablePositions, pairing, x.device());
            Tensor rotated = apply(Ops.to(x, computeType), Ops.to(t.cos(), computeType), Ops.to(t.signedSin(), computeType), pairing);
            result = scope.keep(Ops.to(rotated, x.dtype()));
        }
        return result;
    }

    /**
     * HF's {@code apply_rotary_pos_emb} for one tensor, in x's dtype: {@code x·cos + swapped(x)·signedSin}. HF writes
     * {@code x·cos + rotate_half(x)·sin} with {@code rotate_half(x) = cat(−x2, x1)}; (−x2)·s and x2·(−s) are the same
     * number, so the sign lives in the table ({@link Tables}) and x is not negated: one pass fewer over x.
     */
    public static Tensor apply(Tensor x, Tensor cos, Tensor signedSin, Pairing pairing) {
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            result = scope.keep(Ops.add(Ops.mul(x, cos), Ops.mul(swapped(x, pairing), signedSin)));
        }
        return result;
    }

    /**
     * Every row of {@code x} [..., T, headDim] rotated by the same {@code delta} positions (re-rotation of cached
     * keys): one table row, broadcast over all rows and all leading dimensions (e.g. every layer at once).
     */
    public Tensor rotateBy(Tensor x, long delta, Pairing pairing, DType computeType) {
        if (x.size(-1) != headDim()) {
            throw new IllegalArgumentException("RoPE of head_dim " + headDim() + " applied to " + x);
        }
        return rotateWith(x, new long[] {delta}, pairing, computeType);
    }

    /** Each dimension's rotation partner in its place: HALF_SPLIT {@code cat(x2, x1)}; INTERLEAVED (x0, x1) → (x1, x0). */
    static Tensor swapped(Tensor x, Pairing pairing) {
        long d = x.size(-1);
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            result = switch (pairing) {
                case HALF_SPLIT -> scope.keep(Ops.cat(-1, Ops.narrow(x, -1, d / 2, d / 2), Ops.narrow(x, -1, 0, d / 2)));
                case INTERLEAVED -> {
                    long[] shape = x.shape();
                    long[] pairs = java.util.Arrays.copyOf(shape, shape.length + 1);
                    pairs[shape.length - 1] = d / 2;
                    pairs[shape.length] = 2;
                    Tensor p = Ops.reshape(x, pairs);
                    yield scope.keep(Ops.reshape(Ops.cat(-1, Ops.narrow(p, -1, 1, 1), Ops.narrow(p, -1, 0, 1)), shape));
                }
            };
        }
        return result;
    }
}
