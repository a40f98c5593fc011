package dkv.scorers.score;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.TorchRuntime;
import dkv.scorers.torch.Tensors;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class DocumentKvCheckTest {

    @BeforeAll
    static void torch() {
        TorchRuntime.load(Optional.empty());
    }

    @Test
    void theLargestDifferenceCountsWhicheverSideIsLarger() {
        try (TensorScope _ = TensorScope.open()) {
            Tensor a = Tensors.fromFloats(new float[] {1f, 2f, 3f, -4f, 5f, 6f}, 1, 2, 3);
            Tensor b = Tensors.fromFloats(new float[] {1f, 2.5f, 3f, 0.75f, 5f, 5.875f}, 1, 2, 3);
            // the largest gap is negative (-4 − 0.75): a max without the absolute value would give 0.125
            assertEquals(4.75, DocumentKvCheck.maxAbsDiff(a, b), 0.0);
            assertEquals(4.75, DocumentKvCheck.maxAbsDiff(b, a), 0.0);
            // bf16 inputs are compared in float32 (2 − 1.9921875 is below bf16's spacing at 2)
            Tensor c = Ops.to(Tensors.fromFloats(new float[] {2f}, 1), DType.BFLOAT16);
            Tensor d = Ops.to(Tensors.fromFloats(new float[] {1.9921875f}, 1), DType.BFLOAT16);
            assertEquals(0.0078125, DocumentKvCheck.maxAbsDiff(c, d), 0.0);
        }
    }

    @Test
    void onlyViewsOfTheSameElementsAreTheSameMemory() {
        try (TensorScope _ = TensorScope.open()) {
            Tensor a = Tensors.fromFloats(new float[] {1f, 2f, 3f, 4f, 5f, 6f}, 1, 2, 3);
            Tensor copy = Ops.contiguous(Ops.add(a, 0.0));
            assertTrue(DocumentKvCheck.sameMemory(Ops.narrow(a, 2, 1, 2), Ops.narrow(a, 2, 1, 2)));
            assertFalse(DocumentKvCheck.sameMemory(a, copy), "equal values in other memory");
            assertFalse(DocumentKvCheck.sameMemory(Ops.narrow(a, 2, 0, 2), Ops.narrow(a, 2, 1, 2)), "another offset");
            assertFalse(DocumentKvCheck.sameMemory(Ops.narrow(a, 2, 0, 1), Ops.narrow(a, 2, 0, 2)), "another shape");
            assertFalse(DocumentKvCheck.sameMemory(Ops.reshape(a, 1, 3, 2), a), "another shape, same address");
            assertFalse(DocumentKvCheck.sameMemory(Ops.transpose(Ops.reshape(a, 1, 3, 2), 1, 2), a), "other strides");
        }
    }
}
