package dkv.scorers.torch;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Ownership: scopes free what they own, keep() moves results out, views outlive their base. */
class TensorScopeTest {

    @BeforeAll
    static void load() {
        TorchRuntime.load(Optional.empty()).setNumThreads(1);
    }

    @Test
    void scopeFreesEverythingCreatedInside() {
        long before = Tensor.liveHandles();
        Tensor inner;
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = Tensors.fromFloats(new float[]{1, 2, 3, 4}, 2, 2);
            inner = Ops.matmul(x, Ops.transpose(x, 0, 1));
            assertEquals(before + 3, Tensor.liveHandles());
            assertEquals(3, scope.size());
        }
        assertTrue(inner.isClosed());
        assertEquals(before, Tensor.liveHandles());
    }

    @Test
    void keepMovesAResultToTheEnclosingScopeOrCaller() {
        long before = Tensor.liveHandles();
        Tensor kept;
        try (TensorScope outer = TensorScope.open()) {
            Tensor fromInner;
            try (TensorScope inner = TensorScope.open()) {
                Tensor x = Tensors.fromFloats(new float[]{1, 2, 3}, 3);
                fromInner = inner.keep(Ops.mul(x, 2.0));
            }
            assertFalse(fromInner.isClosed());
            assertEquals(before + 1, Tensor.liveHandles());
            kept = outer.keep(fromInner);
        }
        assertFalse(kept.isClosed());
        assertArrayEquals(new float[]{2, 4, 6}, Tensors.toFloatArray(kept));
        kept.close();
        kept.close();
        assertEquals(before, Tensor.liveHandles());
    }

    @Test
    void viewsKeepStorageAliveAfterTheBaseCloses() {
        long before = Tensor.liveHandles();
        Tensor view;
        try (Tensor base = Tensors.fromFloats(new float[]{1, 2, 3, 4, 5, 6}, 2, 3)) {
            view = Ops.narrow(base, 1, 1, 2);
        }
        assertArrayEquals(new float[]{2, 3, 5, 6}, Tensors.toFloatArray(view));
        view.close();
        assertEquals(before, Tensor.liveHandles());
    }

    @Test
    void keepRejectsForeignTensorsAndClosedTensorsRejectUse() {
        try (Tensor outside = Tensors.fromFloats(new float[]{1}, 1); TensorScope scope = TensorScope.open()) {
            assertThrows(IllegalArgumentException.class, () -> scope.keep(outside));
        }
        Tensor t = Tensors.fromFloats(new float[]{1}, 1);
        t.close();
        assertThrows(IllegalStateException.class, () -> Ops.abs(t));
    }

    @Test
    void failedOpsNameTheOpAndLeakNoWrapper() {
        long before = Tensor.liveHandles();
        try (TensorScope ignored = TensorScope.open()) {
            Tensor a = Tensors.fromFloats(new float[6], 2, 3);
            TorchException e = assertThrows(TorchException.class, () -> Ops.matmul(a, a));
            assertTrue(e.getMessage().startsWith("aten::matmul failed in libtorch"), e.getMessage());
            IndexOutOfBoundsException oob = assertThrows(IndexOutOfBoundsException.class, () -> Ops.narrow(a, 1, 2, 2));
            assertTrue(oob.getMessage().contains("narrow"), oob.getMessage());
        }
        assertEquals(before, Tensor.liveHandles());
    }

    @Test
    void metadataMatchesLibtorch() {
        try (TensorScope ignored = TensorScope.open()) {
            Tensor x = Tensors.empty(DType.BFLOAT16, Device.cpu(), 2, 3, 4);
            assertArrayEquals(new long[]{2, 3, 4}, x.shape());
            assertArrayEquals(new long[]{12, 4, 1}, x.strides());
            assertEquals(DType.BFLOAT16, x.dtype());
            assertEquals(Device.cpu(), x.device());
            Tensor v = Ops.narrow(Ops.transpose(x, 0, 2), 0, 1, 2);
            assertArrayEquals(new long[]{2, 3, 2}, v.shape());
            assertArrayEquals(new long[]{1, 4, 12}, v.strides());
            assertEquals(1, v.storageOffset());
            assertFalse(v.isContiguous());
            assertTrue(Ops.contiguous(v).isContiguous());
        }
    }
}
