package dkv.scorers.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class RopeTest {

    static final int HEADS = 3;
    static final int ROWS = 5;
    static final int DIM = 16;
    static final Rope ROPE = new Rope(new RopeScaling.Llama3(8, 1, 4, 64).inverseFrequencies(10_000, DIM), Rope.Pairing.HALF_SPLIT);
    static final long[] POSITIONS = {0, 1, 7, 130, 4095};

    static float[] randomValues(long seed) {
        Random r = new Random(seed);
        float[] x = new float[HEADS * ROWS * DIM];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    /** Plain double-precision rotation: which dims pair is the whole difference between the two pairings. */
    static double[] reference(float[] x, long[] positions, Rope.Pairing pairing, float[] invFreq) {
        double[] out = new double[x.length];
        int half = DIM / 2;
        for (int h = 0; h < HEADS; h++) {
            for (int t = 0; t < ROWS; t++) {
                int base = (h * ROWS + t) * DIM;
                for (int j = 0; j < half; j++) {
                    double angle = (double) invFreq[j] * positions[t];
                    int a = pairing == Rope.Pairing.HALF_SPLIT ? j : 2 * j;
                    int b = pairing == Rope.Pairing.HALF_SPLIT ? j + half : 2 * j + 1;
                    out[base + a] = x[base + a] * Math.cos(angle) - x[base + b] * Math.sin(angle);
                    out[base + b] = x[base + b] * Math.cos(angle) + x[base + a] * Math.sin(angle);
                }
            }
        }
        return out;
    }

    @ParameterizedTest
    @EnumSource(Rope.Pairing.class)
    void rotationMatchesADoublePrecisionReference(Rope.Pairing pairing) {
        float[] x = randomValues(1);
        double[] expected = reference(x, POSITIONS, pairing, new RopeScaling.Llama3(8, 1, 4, 64).inverseFrequencies(10_000, DIM));
        try (TensorScope _ = TensorScope.open()) {
            Tensor t = Tensors.fromFloats(x, 1, HEADS, ROWS, DIM);
            float[] got = Tensors.toFloatArray(ROPE.rotate(t, POSITIONS, pairing, DType.FLOAT32));
            for (int i = 0; i < x.length; i++) assertEquals(expected[i], got[i], 2e-5 * Math.max(1, Math.abs(expected[i])), "element " + i);
        }
    }

    @ParameterizedTest
    @EnumSource(Rope.Pairing.class)
    void rotatingByThetaThenMinusThetaIsTheIdentity(Rope.Pairing pairing) {
        float[] x = randomValues(2);
        long[] back = new long[POSITIONS.length];
        for (int i = 0; i < back.length; i++) back[i] = -POSITIONS[i];
        try (TensorScope _ = TensorScope.open()) {
            Tensor t = Tensors.fromFloats(x, 1, HEADS, ROWS, DIM);
            float[] round = Tensors.toFloatArray(ROPE.rotate(ROPE.rotate(t, POSITIONS, pairing, DType.FLOAT32), back, pairing, DType.FLOAT32));
            for (int i = 0; i < x.length; i++) assertEquals(x[i], round[i], 1e-5, "element " + i);
        }
    }

    @Test
    void reRotationByMinusPEqualsRotatingToTheTargetPosition() {
        float[] x = randomValues(3);
        long shift = 37;
        long[] from = new long[ROWS];
        long[] to = new long[ROWS];
        for (int i = 0; i < ROWS; i++) {
            from[i] = 1 + shift + i;
            to[i] = 1 + i;
        }
        try (TensorScope _ = TensorScope.open()) {
            Tensor t = Tensors.fromFloats(x, 1, HEADS, ROWS, DIM);
            float[] direct = Tensors.toFloatArray(ROPE.rotate(t, to, Rope.Pairing.HALF_SPLIT, DType.FLOAT32));
            Tensor far = ROPE.rotate(t, from, Rope.Pairing.HALF_SPLIT, DType.FLOAT32);
            float[] corrected = Tensors.toFloatArray(ROPE.rotateBy(far, -shift, Rope.Pairing.HALF_SPLIT, DType.FLOAT32));
            float[] wrongPairs = Tensors.toFloatArray(ROPE.rotateBy(far, -shift, Rope.Pairing.INTERLEAVED, DType.FLOAT32));
            double maxRight = 0;
            double maxWrong = 0;
            for (int i = 0; i < x.length; i++) {
                maxRight = Math.max(maxRight, Math.abs(direct[i] - corrected[i]));
                maxWrong = Math.max(maxWrong, Math.abs(direct[i] - wrongPairs[i]));
            }
            assertTrue(maxRight < 1e-5, "half-split correction off by " + maxRight);
            assertTrue(maxWrong > 0.1, "interleaved correction should break the keys, off by only " + maxWrong);
        }
    }

    @Test
    void bfloat16KeysAreCorrectedInFloat32() {
        float[] x = randomValues(4);
        try (TensorScope _ = TensorScope.open()) {
            Tensor t = dkv.scorers.torch.Ops.to(Tensors.fromFloats(x, 1, HEADS, ROWS, DIM), DType.BFLOAT16, Device.cpu());
            Tensor r = ROPE.rotateBy(t, -5, Rope.Pairing.HALF_SPLIT, DType.FLOAT32);
            assertEquals(DType.BFLOAT16, r.dtype());
        }
    }
}
