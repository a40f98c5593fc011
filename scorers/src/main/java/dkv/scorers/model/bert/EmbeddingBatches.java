package dkv.scorers.model.bert;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Cuts tokenized texts into padded batches of similar length, so that short texts do not pay for a long one's
 * padding and no batch outgrows memory: longest first (a batch too large for the device fails at once, not after
 * an hour), each batch at most {@code maxRows} rows and {@code maxPaddedTokens} tokens once padded. Bidirectional
 * attention makes a row's output independent of its batch-mates, so the cut changes speed, not results.
 */
record EmbeddingBatches(int maxRows, long maxPaddedTokens) {

    EmbeddingBatches {
        if (maxRows < 1 || maxPaddedTokens < 1) throw new IllegalArgumentException("batch limits " + maxRows + "/" + maxPaddedTokens);
    }

    /** Indices into {@code lengths}, one array per batch; every index exactly once. */
    List<int[]> cut(int[] lengths) {
        int[] order = IntStream.range(0, lengths.length).boxed()
                .sorted(Comparator.comparingInt((Integer i) -> -lengths[i]).thenComparingInt(i -> i))
                .mapToInt(Integer::intValue).toArray();
        List<int[]> batches = new ArrayList<>();
        int start = 0;
        while (start < order.length) {
            long width = Math.max(1, lengths[order[start]]); // the longest row of the batch sets its padded width
            int end = start + 1;
            while (end < order.length && end - start < maxRows && (end - start + 1) * width <= maxPaddedTokens) end++;
            int[] batch = new int[end - start];
            System.arraycopy(order, start, batch, 0, batch.length);
            batches.add(batch);
            start = end;
        }
        return batches;
    }
}
