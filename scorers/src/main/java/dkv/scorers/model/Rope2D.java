package dkv.scorers.model;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;

/**
 * GLM's 2D rotary embedding, composed from the one {@link Rope}: the first half of each head rotates by position
 * channel 1 (absolute position), the second half by channel 2 (block position), each half with half-split
 * ({@code rotate_half}) pairing inside it. Truncation re-rotates channel 1 only.
 */
public final class Rope2D {

    private final Rope half;

    /** @param halfRope the 1D rotary embedding of one half of a head (GLM: inv_freq of rotary dim headDim/2, fp16-rounded) */
    public Rope2D(Rope halfRope) {
        if (halfRope.pairing() != Rope.Pairing.HALF_SPLIT) throw new IllegalArgumentException("2D RoPE pairs half-split inside each half");
        this.half = halfRope;
    }

    public int headDim() {
        return 2 * half.headDim();
    }

    /** cos and signed sin tables [positions, headDim] (float32, {@link Rope.Tables}): channel 1's for the first half, channel 2's for the second. */
    public Rope.Tables tables(Positions positions, Device device) {
        if (!positions.isTwoD()) throw new IllegalArgumentException("2D RoPE needs 2D positions, got " + positions);
        Rope.Tables result;
        try (TensorScope scope = TensorScope.open()) {
            Rope.Tables first = half.tables(positions.first(), Rope.Pairing.HALF_SPLIT, device);
            Rope.Tables second = half.tables(positions.second(), Rope.Pairing.HALF_SPLIT, device);
            result = new Rope.Tables(scope.keep(Ops.cat(-1, first.cos(), second.cos())), scope.keep(Ops.cat(-1, first.signedSin(), second.signedSin())));
        }
        return result;
    }

    /** {@code x} [..., T, headDim] rotated by tables from {@link #tables}, in x's dtype. */
    public Tensor apply(Tensor x, Tensor cos, Tensor signedSin) {
        long h = half.headDim();
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor a = Rope.apply(Ops.narrow(x, -1, 0, h), Ops.narrow(cos, -1, 0, h), Ops.narrow(signedSin, -1, 0, h), Rope.Pairing.HALF_SPLIT);
            Tensor b = Rope.apply(Ops.narrow(x, -1, h, h), Ops.narrow(cos, -1, h, h), Ops.narrow(signedSin, -1, h, h), Rope.Pairing.HALF_SPLIT);
            result = scope.keep(Ops.cat(-1, a, b));
        }
        return result;
    }

    /**
     * Every row of {@code x} [..., T, headDim] with channel 1 moved by {@code delta} positions (truncation's correction:
     * the absolute position shifts, the block position and the values do not), arithmetic in {@code computeType}.
     */
    public Tensor rotateFirstChannelBy(Tensor x, long delta, DType computeType) {
        if (x.size(-1) != headDim()) throw new IllegalArgumentException("2D RoPE of head_dim " + headDim() + " applied to " + x);
        long h = half.headDim();
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor rotated = half.rotateBy(Ops.narrow(x, -1, 0, h), delta, Rope.Pairing.HALF_SPLIT, computeType);
            result = scope.keep(Ops.cat(-1, rotated, Ops.narrow(x, -1, h, h)));
        }
        return result;
    }
}
