package dkv.scorers.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Appending in place (generation) equals concatenating caches, and never moves the storage. */
class KvCacheBufferTest {

    static final int LAYERS = 2;
    static final int HEADS = 2;
    static final int DIM = 4;

    static KvCache random(Random r, int length, long firstPosition) {
        List<Tensor> k = new ArrayList<>();
        List<Tensor> v = new ArrayList<>();
        for (int l = 0; l < LAYERS; l++) {
            k.add(Tensors.fromFloats(values(r, HEADS * length * DIM), 1, HEADS, length, DIM));
            v.add(Tensors.fromFloats(values(r, HEADS * length * DIM), 1, HEADS, length, DIM));
        }
        return new KvCache(k, v, Positions.consecutive(firstPosition, length));
    }

    static float[] values(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    @Test
    void appendingStepsEqualsConcatenation() {
        Random r = new Random(7);
        try (TensorScope _ = TensorScope.open();
             KvCacheBuffer buffer = KvCacheBuffer.allocate(LAYERS, HEADS, 16, DIM, DType.FLOAT32, Device.cpu())) {
            KvCache prompt = random(r, 5, 0);
            KvCache step1 = random(r, 1, 5);
            KvCache step2 = random(r, 3, 6);
            buffer.append(prompt);
            long storage = buffer.view().keys(0).dataPointer().address();
            buffer.append(step1);
            buffer.append(step2);
            KvCache expected = KvCache.concat(KvCache.concat(prompt, step1), step2);
            KvCache got = buffer.view();
            assertEquals(9, got.length());
            assertEquals(expected.positions(), got.positions());
            assertEquals(storage, got.keys(0).dataPointer().address(), "appending must not move the past");
            for (int l = 0; l < LAYERS; l++) {
                assertArrayEquals(Tensors.toFloatArray(expected.keys(l)), Tensors.toFloatArray(got.keys(l)), "keys of layer " + l);
                assertArrayEquals(Tensors.toFloatArray(expected.values(l)), Tensors.toFloatArray(got.values(l)), "values of layer " + l);
            }
        }
    }

    @Test
    void overflowingTheCapacityIsRefused() {
        Random r = new Random(8);
        try (TensorScope _ = TensorScope.open();
             KvCacheBuffer buffer = KvCacheBuffer.allocate(LAYERS, HEADS, 4, DIM, DType.FLOAT32, Device.cpu())) {
            buffer.append(random(r, 3, 0));
            var e = assertThrows(IllegalArgumentException.class, () -> buffer.append(random(r, 2, 3)));
            assertEquals("cache buffer of 4 entries cannot take 2 more after 3", e.getMessage());
        }
    }

    @Test
    void rowsAreRightAlignedAtACommonEndAndMayBeDropped() {
        Random r = new Random(9);
        try (TensorScope _ = TensorScope.open();
             KvCacheBuffer buffer = KvCacheBuffer.allocate(LAYERS, 3, HEADS, 8, DIM, DType.FLOAT32, Device.cpu())) {
            List<KvCache> prompts = List.of(random(r, 2, 0), random(r, 5, 0), random(r, 3, 0));
            buffer.appendRows(prompts);
            assertEquals(5, buffer.end());
            List<KvCache> steps = List.of(random(r, 1, 2), random(r, 1, 5), random(r, 1, 3));
            buffer.appendRows(steps);
            assertEquals(6, buffer.end());
            for (int b = 0; b < 3; b++) {
                KvCache expected = KvCache.concat(prompts.get(b), steps.get(b));
                assertEquals(expected.positions(), buffer.row(b).positions());
                assertArrayEquals(Tensors.toFloatArray(expected.values(1)), Tensors.toFloatArray(buffer.row(b).values(1)), "row " + b);
            }
            // padding columns hold zeros, never garbage
            float[] row0 = Tensors.toFloatArray(dkv.scorers.torch.Ops.narrow(dkv.scorers.torch.Ops.narrow(buffer.storage(0, true), 0, 0, 1), 2, 0, 3));
            for (float v : row0) assertEquals(0f, v);
            var gap = assertThrows(IllegalArgumentException.class, () -> buffer.appendRows(List.of(random(r, 2, 3), random(r, 1, 6), random(r, 1, 4))));
            assertEquals("row 1 takes 1 entries while others take 2: only an empty row may take fewer (they would leave a gap)", gap.getMessage());
            KvCache kept = buffer.row(2);
            Tensor keptKeys = kept.keys(0);
            buffer.keepRows(new int[] {2, 0});
            assertEquals(2, buffer.rows());
            assertArrayEquals(Tensors.toFloatArray(keptKeys), Tensors.toFloatArray(buffer.row(0).keys(0)),
                    "a view made before the rows were dropped still reads the old storage");
            var stale = assertThrows(IllegalStateException.class, () -> kept.values(0));
            assertEquals("a view of cache buffer row 2 read after the buffer dropped rows or closed", stale.getMessage());
            assertEquals(KvCache.concat(prompts.get(0), steps.get(0)).positions(), buffer.row(1).positions());
        }
    }
}
