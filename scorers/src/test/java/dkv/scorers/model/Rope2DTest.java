package dkv.scorers.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** GLM's 2D RoPE against a plain double-precision rotation written from the published description. */
class Rope2DTest {

    static final int HEADS = 2;
    static final int ROWS = 4;
    static final int DIM = 16;  // each half 8: 4 pairs rotated by its own channel
    static final float[] INV_FREQ = {1f, 0.31622776f, 0.1f, 0.031622775f};
    static final Rope2D ROPE = new Rope2D(new Rope(INV_FREQ, Rope.Pairing.HALF_SPLIT));
    static final long[] POSITION = {0, 1, 5, 5};
    static final long[] BLOCK = {0, 0, 1, 2};

    static float[] randomValues(long seed) {
        Random r = new Random(seed);
        float[] x = new float[HEADS * ROWS * DIM];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    /** Half h of each head (h = 0: dims 0..7 by position, h = 1: dims 8..15 by block), rotate_half pairs (j, j + 4) inside it. */
    static double[] reference(float[] x, long[] position, long[] block) {
        double[] out = new double[x.length];
        int halfDim = DIM / 2;
        int pairs = halfDim / 2;
        for (int h = 0; h < HEADS; h++) {
            for (int t = 0; t < ROWS; t++) {
                for (int part = 0; part < 2; part++) {
                    int base = (h * ROWS + t) * DIM + part * halfDim;
                    long p = part == 0 ? position[t] : block[t];
                    for (int j = 0; j < pairs; j++) {
                        double angle = (double) INV_FREQ[j] * p;
                        int a = base + j;
                        int b = base + j + pairs;
                        out[a] = x[a] * Math.cos(angle) - x[b] * Math.sin(angle);
                        out[b] = x[b] * Math.cos(angle) + x[a] * Math.sin(angle);
                    }
                }
            }
        }
        return out;
    }

    static float[] rotate(float[] x, long[] position, long[] block) {
        Tensor t = Tensors.fromFloats(x, 1, HEADS, ROWS, DIM);
        Rope.Tables tables = ROPE.tables(Positions.twoD(position, block), Device.cpu());
        return Tensors.toFloatArray(ROPE.apply(t, tables.cos(), tables.signedSin()));
    }

    @Test
    void eachHalfRotatesByItsOwnChannel() {
        float[] x = randomValues(1);
        double[] expected = reference(x, POSITION, BLOCK);
        try (TensorScope _ = TensorScope.open()) {
            float[] got = rotate(x, POSITION, BLOCK);
            for (int i = 0; i < x.length; i++) assertEquals(expected[i], got[i], 2e-6 * Math.max(1, Math.abs(expected[i])), "element " + i);
        }
    }

    @Test
    void rotatingByThetaThenMinusThetaIsTheIdentity() {
        float[] x = randomValues(2);
        long[] minusPosition = new long[ROWS];
        long[] minusBlock = new long[ROWS];
        for (int i = 0; i < ROWS; i++) {
            minusPosition[i] = -POSITION[i];
            minusBlock[i] = -BLOCK[i];
        }
        try (TensorScope _ = TensorScope.open()) {
            float[] round = rotate(rotate(x, POSITION, BLOCK), minusPosition, minusBlock);
            for (int i = 0; i < x.length; i++) assertEquals(x[i], round[i], 1e-5, "element " + i);
        }
    }

    /** Truncation's correction: channel 1 moves by −P, channel 2 stays; equal to rotating to the shifted positions. */
    @Test
    void correctingChannelOneEqualsRotatingToTheShiftedPosition() {
        float[] x = randomValues(3);
        long shift = 3;
        long[] later = new long[ROWS];
        for (int i = 0; i < ROWS; i++) later[i] = POSITION[i] + shift;
        try (TensorScope _ = TensorScope.open()) {
            Tensor atLater = Tensors.fromFloats(rotate(x, later, BLOCK), 1, HEADS, ROWS, DIM);
            float[] corrected = Tensors.toFloatArray(ROPE.rotateFirstChannelBy(atLater, -shift, DType.FLOAT32));
            float[] direct = rotate(x, POSITION, BLOCK);
            for (int i = 0; i < x.length; i++) assertEquals(direct[i], corrected[i], 1e-5, "element " + i);
        }
    }
}
