package dkv.scorers.model.bert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class EmbeddingBatchesTest {

    @Test
    void longestFirstUnderBothLimitsEveryTextOnce() {
        Random random = new Random(7);
        int[] lengths = new int[500];
        for (int i = 0; i < lengths.length; i++) lengths[i] = 2 + random.nextInt(255);
        EmbeddingBatches limits = new EmbeddingBatches(16, 1_000);
        List<int[]> batches = limits.cut(lengths);
        boolean[] seen = new boolean[lengths.length];
        int previousLongest = Integer.MAX_VALUE;
        for (int[] batch : batches) {
            int longest = Arrays.stream(batch).map(i -> lengths[i]).max().orElseThrow();
            assertEquals(lengths[batch[0]], longest, "a batch starts with its longest text");
            assertTrue(longest <= previousLongest, "longest first");
            assertTrue(batch.length <= 16, "rows " + batch.length);
            assertTrue(batch.length == 1 || (long) batch.length * longest <= 1_000, "padded tokens " + batch.length * longest);
            previousLongest = longest;
            for (int i : batch) {
                assertTrue(!seen[i], "text " + i + " twice");
                seen[i] = true;
            }
        }
        for (boolean s : seen) assertTrue(s);
    }

    @Test
    void aTextLongerThanTheBudgetStillGetsItsOwnBatch() {
        assertEquals(List.of(List.of(1), List.of(0, 2)),
                new EmbeddingBatches(8, 10).cut(new int[] {5, 20, 5}).stream().map(b -> Arrays.stream(b).boxed().toList()).toList());
        assertArrayEquals(new int[] {0}, new EmbeddingBatches(8, 10).cut(new int[] {0}).getFirst());
    }
}
