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
    public record Tables(Tensor cos, Tensor signedSin) {}

    /**
     * Tables for the given (possibly negative) positions, on {@code device}. A batch's positions repeat (every row
     * counts from 0), so the angles are computed on the host once per distinct position and the rows picked on the
     * device: a forward over B rows of width W uploads W table rows and B·W indices instead of B·W table rows.
     */
    public Tables tables(long[] positions, Pairing pairing, Device device) {
        long[] distinct = java.util.Arrays.stream(positions).sorted().distinct().toArray();
        Tables result;
        try (TensorScope scope = TensorScope.open()) {
            Tables unique = hostTables(distinct, pairing, device);
            if (java.util.Arrays.equals(distinct, positions)) {
                result = new Tables(scope.keep(unique.cos()), scope.keep(unique.signedSin()));
            } else {
                long[] rows = new long[positions.length];
                for (int t = 0; t < positions.length; t++) rows[t] = java.util.Arrays.binarySearch(distinct, positions[t]);
                Tensor index = Ops.upload(Tensors.fromLongs(rows, rows.length), device);
                result = new Tables(scope.keep(Ops.indexSelect(unique.cos(), 0, index)),
                        scope.keep(Ops.indexSelect(unique.signedSin(), 0, index)));
            }
        }
        return result;
    }

    /** One table row per position, the angles computed here. */
    private Tables hostTables(long[] positions, Pairing pairing, Device device) {
        int half = inverseFrequencies.length;
        int d = 2 * half;
        float[] cos = new float[positions.length * d];
        float[] sin = new float[positions.length * d];
        for (int t = 0; t < positions.length; t++) {
            float pos = positions[t];
            for (int j = 0; j < half; j++) {
                float angle = inverseFrequencies[j] * pos;  // float32 product, like HF's inv_freq @ position_ids
                float c = (float) Math.cos(angle);
                float s = (float) Math.sin(angle);
                int a = pairing == Pairing.HALF_SPLIT ? j : 2 * j;
                int b = pairing == Pairing.HALF_SPLIT ? j + half : 2 * j + 1;
                cos[t * d + a] = c;
                cos[t * d + b] = c;
                sin[t * d + a] = -s;  // x_a' = x_a·c − x_b·s
                sin[t * d + b] = s;   // x_b' = x_b·c + x_a·s
            }
        }
        return new Tables(Ops.upload(Tensors.fromFloats(cos, positions.length, d), device),
                Ops.upload(Tensors.fromFloats(sin, positions.length, d), device));
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
