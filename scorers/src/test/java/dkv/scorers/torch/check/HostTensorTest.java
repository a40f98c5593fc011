package dkv.scorers.torch.check;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The reference itself, on hand-computed values: a wrong reference would make every op check meaningless. */
class HostTensorTest {

    private static HostTensor t(long[] shape, double... v) {
        return new HostTensor(v, shape);
    }

    @Test
    void matmulBroadcastsBatches() {
        HostTensor a = t(new long[]{2, 1, 2}, 1, 2, 3, 4);
        HostTensor b = t(new long[]{2, 1}, 10, 100);
        HostTensor c = HostTensor.matmul(a, b);
        assertArrayEquals(new long[]{2, 1, 1}, c.shape());
        assertArrayEquals(new double[]{210, 430}, c.data());
    }

    @Test
    void softmaxAndLogSoftmaxAlongAnyDim() {
        HostTensor x = t(new long[]{2, 2}, 0, Math.log(3), 1, 1);
        assertArrayEquals(new double[]{0.25, 0.75, 0.5, 0.5}, x.softmax(1).data(), 1e-15);
        assertArrayEquals(new double[]{Math.log(0.25), Math.log(0.75), Math.log(0.5), Math.log(0.5)},
                x.logSoftmax(-1).data(), 1e-15);
        HostTensor cols = x.softmax(0);
        assertEquals(1 / (1 + Math.E), cols.data()[0], 1e-15);
        assertEquals(3 / (3 + Math.E), cols.data()[1], 1e-15);
    }

    @Test
    void permuteNarrowCatGather() {
        HostTensor x = t(new long[]{2, 3}, 1, 2, 3, 4, 5, 6);
        assertArrayEquals(new double[]{1, 4, 2, 5, 3, 6}, x.permute(1, 0).data());
        assertArrayEquals(new double[]{2, 3, 5, 6}, x.narrow(1, 1, 2).data());
        assertArrayEquals(new double[]{1, 2, 3, 9, 4, 5, 6, 9}, HostTensor.cat(1, x, t(new long[]{2, 1}, 9, 9)).data());
        assertArrayEquals(new double[]{3, 1, 5, 5}, x.gather(1, t(new long[]{2, 2}, 2, 0, 1, 1)).data());
        assertArrayEquals(new double[]{4, 5, 6, 1, 2, 3}, x.embedding(t(new long[]{2}, 1, 0)).data());
    }

    @Test
    void attentionWithMaskAndCausality() {
        // one head, two queries, two keys; q·k = 0 everywhere so probabilities are uniform over visible keys
        HostTensor q = t(new long[]{1, 1, 2, 1}, 0, 0);
        HostTensor k = t(new long[]{1, 1, 2, 1}, 1, 1);
        HostTensor v = t(new long[]{1, 1, 2, 1}, 2, 4);
        assertArrayEquals(new double[]{2, 3}, HostTensor.attention(q, k, v, null, false, true, 1)[0].data(), 1e-15);
        HostTensor mask = t(new long[]{2, 2}, 0, 1, 1, 1);
        assertArrayEquals(new double[]{4, 3}, HostTensor.attention(q, k, v, mask, false, false, 1)[0].data(), 1e-15);
    }

    @Test
    void bfloat16RoundingIsToNearestEven() {
        // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to the even one (1)
        assertEquals(1.0, OpChecks.roundToBfloat16(1f + 0x1p-8f));
        assertEquals(1 + 0x1p-6, OpChecks.roundToBfloat16(1f + 0x1p-7f + 0x1p-8f));
        assertEquals(1 + 0x1p-7, OpChecks.roundToBfloat16(1f + 0x1p-7f + 0x1p-10f));
    }
}
