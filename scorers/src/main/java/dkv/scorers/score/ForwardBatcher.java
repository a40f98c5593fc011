package dkv.scorers.score;

import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.torch.TorchException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Runs independent forwards as padded batches through {@link CausalLm#forwardBatch}: rows sorted by length
 * (new tokens, then past) so that a batch pads little, at most {@code maxRows} rows and {@code maxTokens} padded
 * new tokens per batch, attention-probability forwards apart (they take the explicit attention path).
 *
 * <p>Out of memory: a batch of more than one row that fails with libtorch's out-of-memory error is retried in
 * halves, and the halved token budget is remembered for every later call, so a worker settles on what fits.
 * Not thread-safe, like {@link SampleScorer}.
 */
final class ForwardBatcher {

    private static final System.Logger LOG = System.getLogger(ForwardBatcher.class.getName());

    /** Receives each forward's result with its share of its batch's wall time. */
    interface ResultSink {
        void accept(int request, ForwardResult result, double millis);
    }

    private final CausalLm model;
    /** Padded new tokens per batch that fit in memory, learned from out-of-memory errors. */
    private int learnedMaxTokens = Integer.MAX_VALUE;

    ForwardBatcher(CausalLm model) {
        this.model = model;
    }

    /** The token budget out-of-memory errors have taught so far ({@link Integer#MAX_VALUE}: none yet). */
    int learnedMaxTokens() {
        return learnedMaxTokens;
    }

    /** Runs every request; {@code sink} sees each result once, batch by batch. */
    void run(List<ForwardRequest> requests, int maxRows, int maxTokens, ResultSink sink) {
        for (boolean probs : new boolean[] {false, true}) {
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < requests.size(); i++) if (requests.get(i).attentionProbs() == probs) order.add(i);
            order.sort(Comparator.<Integer>comparingInt(i -> requests.get(i).ids().length)
                    .thenComparingInt(i -> requests.get(i).past().length()).reversed());
            int from = 0;
            while (from < order.size()) {
                int budget = Math.min(maxTokens, learnedMaxTokens);
                // sorted longest first: the first row of a batch sets its padded width
                int width = requests.get(order.get(from)).ids().length;
                int rows = Math.max(1, Math.min(maxRows, Math.min(order.size() - from, budget / width)));
                List<Integer> chunk = order.subList(from, from + rows);
                List<ForwardRequest> batch = chunk.stream().map(requests::get).toList();
                long t0 = System.nanoTime();
                List<ForwardResult> results;
                try {
                    results = model.forwardBatch(batch);
                } catch (TorchException e) {
                    if (rows == 1 || !isOutOfMemory(e)) throw e;
                    learnedMaxTokens = Math.max(1, rows * width / 2);
                    LOG.log(System.Logger.Level.WARNING, String.format(Locale.ROOT,
                            "out of memory in a batch of %d rows x %d tokens on %s; batches now hold at most %d tokens",
                            rows, width, model.device(), learnedMaxTokens));
                    continue;
                }
                double share = (System.nanoTime() - t0) / 1e6 / rows;
                for (int k = 0; k < rows; k++) sink.accept(chunk.get(k), results.get(k), share);
                from += rows;
            }
        }
    }

    /** libtorch's allocator failures: CUDA's caching allocator and the CPU allocator word them so. */
    static boolean isOutOfMemory(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (m == null) continue;
            String lower = m.toLowerCase(Locale.ROOT);
            if (lower.contains("out of memory") || lower.contains("not enough memory")) return true;
        }
        return false;
    }
}
