package dkv.scorers.score;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BatchPlannerTest {

    @Test
    void bimodalRoundIsSplitWhereTheWidthDrops() {
        // the benchmark's round: 96 prefills of ~110 tokens, then 160 continuations of ~30 (greedy filling of a 16k
        // budget put 148 rows of width 110 in the first batch, ~140 of them padded from 30)
        int[] widths = new int[256];
        for (int i = 0; i < 96; i++) widths[i] = 110;
        for (int i = 96; i < 256; i++) widths[i] = 30;
        List<Integer> sizes = BatchPlanner.plan(widths, 256, 16384);
        assertEquals(List.of(96, 160), sizes);
    }

    @Test
    void equalWidthsFillBatchesUpToTheLimits() {
        int[] widths = new int[300];
        Arrays.fill(widths, 40);
        assertEquals(List.of(128, 128, 44), BatchPlanner.plan(widths, 128, 1 << 20));
        List<Integer> byTokens = BatchPlanner.plan(widths, 1000, 4000);  // 100 rows of 40 per batch
        assertEquals(List.of(100, 100, 100), byTokens);
    }

    @Test
    void aRowLongerThanTheBudgetRunsAlone() {
        assertEquals(List.of(1, 2), BatchPlanner.plan(new int[] {500, 10, 10}, 8, 100));
    }

    @Test
    void planIsOptimalAndWithinLimitsAgainstExhaustiveSearch() {
        Random random = new Random(7);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + random.nextInt(9);
            int[] widths = random.ints(n, 1, 120).boxed().sorted((a, b) -> b - a).mapToInt(Integer::intValue).toArray();
            int maxRows = 1 + random.nextInt(6);
            int maxTokens = 50 + random.nextInt(400);
            List<Integer> sizes = BatchPlanner.plan(widths, maxRows, maxTokens);
            assertEquals(n, sizes.stream().mapToInt(Integer::intValue).sum());
            int from = 0;
            for (int rows : sizes) {
                assertTrue(rows <= maxRows && (rows == 1 || rows * widths[from] <= maxTokens), "batch limits");
                from += rows;
            }
            assertEquals(bruteForce(widths, 0, maxRows, maxTokens), cost(widths, sizes), "cost of " + sizes);
        }
    }

    @Test
    void decoderRowsAreCutWhereTheirMemoriesShorten() {
        // 128 rows over ~400-token memories, 128 over ~60: one batch would pad the short ones' memories sevenfold
        int[] widths = new int[256];
        int[] memories = new int[256];
        Arrays.fill(widths, 12);
        for (int i = 0; i < 256; i++) memories[i] = i < 128 ? 400 : 60;
        assertEquals(List.of(128, 128), BatchPlanner.plan(widths, memories, 256, 6144));
        // equal memories: the plan is the width-only one
        Arrays.fill(memories, 100);
        assertEquals(List.of(256), BatchPlanner.plan(widths, memories, 256, 6144));
    }

    @Test
    void memoryPlanIsOptimalAndWithinLimitsAgainstExhaustiveSearch() {
        Random random = new Random(13);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + random.nextInt(8);
            int[] widths = random.ints(n, 1, 40).toArray();  // any order: rows are sorted by memory
            int[] memories = random.ints(n, 1, 500).boxed().sorted((a, b) -> b - a).mapToInt(Integer::intValue).toArray();
            int maxRows = 1 + random.nextInt(6);
            int maxTokens = 20 + random.nextInt(100);
            List<Integer> sizes = BatchPlanner.plan(widths, memories, maxRows, maxTokens);
            assertEquals(n, sizes.stream().mapToInt(Integer::intValue).sum());
            int from = 0;
            for (int rows : sizes) {
                int width = Arrays.stream(widths, from, from + rows).max().orElseThrow();
                assertTrue(rows <= maxRows && (rows == 1 || rows * width <= maxTokens), "batch limits");
                from += rows;
            }
            assertEquals(bruteForceWithMemory(widths, memories, 0, maxRows, maxTokens), costWithMemory(widths, memories, sizes),
                    "cost of " + sizes);
        }
    }

    @Test
    void unsortedMemoriesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> BatchPlanner.plan(new int[] {1, 1}, new int[] {5, 9}, 4, 100));
    }

    private static long batchCostWithMemory(int[] widths, int[] memories, int from, int rows) {
        long width = Arrays.stream(widths, from, from + rows).max().orElseThrow();
        return rows * (width * BatchPlanner.MEMORY_SLOTS_PER_TOKEN + memories[from])
                + (long) BatchPlanner.BATCH_OVERHEAD_TOKENS * BatchPlanner.MEMORY_SLOTS_PER_TOKEN;
    }

    private static long costWithMemory(int[] widths, int[] memories, List<Integer> sizes) {
        long total = 0;
        int from = 0;
        for (int rows : sizes) {
            total += batchCostWithMemory(widths, memories, from, rows);
            from += rows;
        }
        return total;
    }

    /** Every split of rows [from, n) into batches within the limits; the least cost. */
    private static long bruteForceWithMemory(int[] widths, int[] memories, int from, int maxRows, int maxTokens) {
        if (from == widths.length) return 0;
        long best = Long.MAX_VALUE;
        for (int rows = 1; rows <= maxRows && from + rows <= widths.length; rows++) {
            int width = Arrays.stream(widths, from, from + rows).max().orElseThrow();
            if (rows > 1 && rows * width > maxTokens) continue;
            best = Math.min(best, batchCostWithMemory(widths, memories, from, rows)
                    + bruteForceWithMemory(widths, memories, from + rows, maxRows, maxTokens));
        }
        return best;
    }

    @Test
    void unsortedWidthsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> BatchPlanner.plan(new int[] {10, 20}, 4, 100));
    }

    private static long cost(int[] widths, List<Integer> sizes) {
        long c = 0;
        int from = 0;
        for (int rows : sizes) {
            c += (long) rows * widths[from] + BatchPlanner.BATCH_OVERHEAD_TOKENS;
            from += rows;
        }
        return c;
    }

    private static long bruteForce(int[] widths, int from, int maxRows, int maxTokens) {
        if (from == widths.length) return 0;
        long best = Long.MAX_VALUE;
        List<Long> options = new ArrayList<>();
        for (int rows = 1; from + rows <= widths.length && rows <= maxRows; rows++) {
            if (rows > 1 && rows * widths[from] > maxTokens) break;
            options.add((long) rows * widths[from] + BatchPlanner.BATCH_OVERHEAD_TOKENS
                    + bruteForce(widths, from + rows, maxRows, maxTokens));
        }
        for (long o : options) best = Math.min(best, o);
        return best;
    }
}
