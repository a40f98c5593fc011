package dkv.scorers.score;

import dkv.scorers.model.Decoder;
import dkv.scorers.model.LoadedModel;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.torch.TorchException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Runs independent forwards as padded batches through {@link Decoder#forwardBatch}: rows sorted by length
 * (encoder memory for an encoder-decoder's decoder rows, then new tokens, then past) and cut into batches where
 * {@link BatchPlanner} finds padding costs more than another forward, at most {@code maxRows} rows and
 * {@code maxTokens} padded new tokens per batch. Attention-probability
 * forwards (the explicit attention path) and forwards without a past (no mask, so SDPA may pick flash) run apart.
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

    private final Decoder model;
    private final dkv.scorers.torch.Device device;
    /** Padded new tokens per batch that fit in memory, learned from out-of-memory errors. */
    private int learnedMaxTokens = Integer.MAX_VALUE;
    /** Null unless a benchmark asked where the time goes. */
    private ForwardProfile profile;

    <M extends LoadedModel & Decoder> ForwardBatcher(M model) {
        this.model = model;
        this.device = model.device();
    }

    void profile(ForwardProfile profile) {
        this.profile = profile;
    }

    /** The token budget out-of-memory errors have taught so far ({@link Integer#MAX_VALUE}: none yet). */
    int learnedMaxTokens() {
        return learnedMaxTokens;
    }

    /** Runs every request; {@code sink} sees each result once, batch by batch. */
    void run(List<ForwardRequest> requests, int maxRows, int maxTokens, ResultSink sink) {
        // attention-probability forwards take the explicit path, and rows without a past need no mask tensor
        // (so SDPA may pick flash): each kind is batched apart
        for (boolean probs : new boolean[] {false, true}) {
            for (boolean withPast : new boolean[] {false, true}) {
                List<Integer> order = new ArrayList<>();
                for (int i = 0; i < requests.size(); i++) {
                    ForwardRequest r = requests.get(i);
                    if (r.attentionProbs() == probs && r.past().isEmpty() != withPast) order.add(i);
                }
                // decoder rows of an encoder-decoder by memory length first: their batches pad every row's memory
                order.sort(Comparator.<Integer>comparingInt(i -> memoryLength(requests.get(i)))
                        .thenComparingInt(i -> requests.get(i).ids().length)
                        .thenComparingInt(i -> requests.get(i).past().length()).reversed());
                runSorted(requests, order, maxRows, maxTokens, sink);
            }
        }
    }

    /** Runs the requests in {@code order} (longest first) in the batches {@link BatchPlanner} picks. */
    private void runSorted(List<ForwardRequest> requests, List<Integer> order, int maxRows, int maxTokens, ResultSink sink) {
        int from = 0;
        List<Integer> sizes = List.of();
        int planned = 0;
        while (from < order.size()) {
            int budget = Math.min(maxTokens, learnedMaxTokens);
            if (planned == sizes.size()) {
                List<Integer> rest = order.subList(from, order.size());
                int[] widths = rest.stream().mapToInt(i -> requests.get(i).ids().length).toArray();
                int[] memories = rest.stream().mapToInt(i -> memoryLength(requests.get(i))).toArray();
                sizes = BatchPlanner.plan(widths, memories, maxRows, budget);
                planned = 0;
            }
            int rows = sizes.get(planned);
            List<Integer> chunk = order.subList(from, from + rows);
            int width = chunk.stream().mapToInt(i -> requests.get(i).ids().length).max().orElseThrow();
            List<ForwardRequest> batch = chunk.stream().map(requests::get).toList();
            long profiled = profile == null ? 0 : profile.start();
            long t0 = System.nanoTime();
            List<ForwardResult> results;
            try {
                results = model.forwardBatch(batch);
            } catch (TorchException e) {
                if (rows == 1 || !isOutOfMemory(e)) throw e;
                learnedMaxTokens = Math.max(1, rows * width / 2);
                LOG.log(System.Logger.Level.WARNING, String.format(Locale.ROOT,
                        "out of memory in a batch of %d rows x %d tokens on %s; batches now hold at most %d tokens",
                        rows, width, device, learnedMaxTokens));
                sizes = List.of();  // plan the rest again within the smaller budget
                planned = 0;
                continue;
            }
            if (profile != null) profile.batch(batch, profiled);
            double share = (System.nanoTime() - t0) / 1e6 / rows;
            for (int k = 0; k < rows; k++) sink.accept(chunk.get(k), results.get(k), share);
            from += rows;
            planned++;
        }
    }

    /** The encoder memory a decoder row attends to, in tokens (0 for a decoder-only row). */
    private static int memoryLength(ForwardRequest r) {
        return r.cross() == null ? 0 : r.cross().memory().length();
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
