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
     * How many encoder-memory slots cost as much as one padded decoder token: a decoder row's memory is gathered
     * (K and V, every layer) into the batch's key axis padded to its longest memory, and attended over. On the
     * T5Gemma-2-4B-shaped bench a memory slot took ~0.4–0.6 µs per row across the decoder's layers (gathers and
     * concatenations of the profile: NOTES "Session 5") against ~9 µs of GEMMs per decoder token.
     */
    static final int MEMORY_SLOTS_PER_TOKEN = 16;

    /**
     * The batch sizes, in order, for rows of the given widths (sorted non-increasing): each batch holds at most
     * {@code maxRows} rows and at most {@code maxTokens} padded tokens, except that a single row always fits.
     */
    static List<Integer> plan(int[] widths, int maxRows, int maxTokens) {
        for (int i = 1; i < widths.length; i++) {
            if (widths[i] > widths[i - 1]) throw new IllegalArgumentException("widths must be sorted longest first");
        }
        return plan(widths, new int[widths.length], maxRows, maxTokens);
    }

    /**
     * The same for decoder rows that read encoder memories ({@code memories}: each row's memory length, sorted
     * non-increasing; widths in any order): a batch also costs its rows × its longest memory, at
     * {@link #MEMORY_SLOTS_PER_TOKEN} slots per token, so rows are cut where the memories shorten (a call's passages
     * span 30–300 words; one batch pads every row's memory to the longest). The token budget counts new tokens.
     */
    static List<Integer> plan(int[] widths, int[] memories, int maxRows, int maxTokens) {
        int n = widths.length;
        if (memories.length != n) throw new IllegalArgumentException(n + " widths, " + memories.length + " memory lengths");
        for (int i = 1; i < n; i++) {
            if (memories[i] > memories[i - 1]) throw new IllegalArgumentException("memory lengths must be sorted longest first");
        }
        // best[i]: least cost of rows [i, n) in memory slots; next[i]: where the first batch of that plan ends
        long[] best = new long[n + 1];
        int[] next = new int[n + 1];
        for (int i = n - 1; i >= 0; i--) {
            best[i] = Long.MAX_VALUE;
            long width = 0;  // the batch's padded width: its widest row so far
            for (int rows = 1; rows <= Math.min(maxRows, n - i); rows++) {
                width = Math.max(width, widths[i + rows - 1]);
                if (rows > 1 && rows * width > maxTokens) break;  // the width only grows with more rows
                long cost = rows * (width * MEMORY_SLOTS_PER_TOKEN + memories[i])
                        + (long) BATCH_OVERHEAD_TOKENS * MEMORY_SLOTS_PER_TOKEN + best[i + rows];
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
