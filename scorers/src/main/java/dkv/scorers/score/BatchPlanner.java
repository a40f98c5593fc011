package dkv.scorers.score;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits rows sorted longest first into consecutive padded batches at the least cost, where a batch costs its
 * padded tokens (rows × its first, longest row) plus a fixed {@link #BATCH_OVERHEAD_TOKENS}. Greedy filling
 * (as many rows as the budget allows) pads short rows to the width of long ones: on the benchmark workload a
 * round of 110-token prefills and 30-token continuations padded three quarters of a batch; this picks the split
 * points by dynamic programming instead (n² for n rows, microseconds for the few hundred rows of a round).
 * A row's width counts its new tokens only: the pasts a continuation batch pads to its longest are not costed
 * (on MS MARCO lengths they differ by a surrogate's few tokens; rows are sorted by new tokens, not by past).
 */
final class BatchPlanner {

    /**
     * What one more forward costs beyond its tokens, in padded-token equivalents: reading every weight once
     * (14.5 GB at ~3 TB/s ≈ 5 ms) and issuing ~1 300 kernels (~13 ms of host time) on a 7B model, against
     * roughly 40 000 tokens/s when the GPU is busy — a few hundred tokens. Only the order of magnitude matters:
     * it decides when splitting off shorter rows pays for another forward.
     */
    static final int BATCH_OVERHEAD_TOKENS = 512;

    private BatchPlanner() {
    }

    /**
     * The batch sizes, in order, for rows of the given widths (sorted non-increasing): each batch holds at most
     * {@code maxRows} rows and at most {@code maxTokens} padded tokens, except that a single row always fits.
     */
    static List<Integer> plan(int[] widths, int maxRows, int maxTokens) {
        int n = widths.length;
        for (int i = 1; i < n; i++) {
            if (widths[i] > widths[i - 1]) throw new IllegalArgumentException("widths must be sorted longest first");
        }
        // best[i]: least cost of rows [i, n); next[i]: where the first batch of that plan ends
        long[] best = new long[n + 1];
        int[] next = new int[n + 1];
        for (int i = n - 1; i >= 0; i--) {
            long width = widths[i];
            int most = (int) Math.max(1, Math.min(maxRows, Math.min(n - i, maxTokens / Math.max(1, width))));
            best[i] = Long.MAX_VALUE;
            for (int rows = 1; rows <= most; rows++) {
                long cost = rows * width + BATCH_OVERHEAD_TOKENS + best[i + rows];
                if (cost <= best[i]) {  // ties: the larger first batch
                    best[i] = cost;
                    next[i] = i + rows;
                }
            }
        }
        List<Integer> sizes = new ArrayList<>();
        for (int i = 0; i < n; i = next[i]) sizes.add(next[i] - i);
        return sizes;
    }
}
