package dkv.scorers.score;

import dkv.scorers.model.ForwardRequest;
import dkv.scorers.torch.TorchRuntime;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Where a scorer's time goes, for benchmarks: with a profile attached ({@link SampleScorer#profile}), every
 * batched forward is bracketed by device synchronizations, so its time is the forward's own device time plus
 * issuing it; the rest of a call (planning, truncation, per-condition read-out) is what remains of the wall
 * time. Synchronizing costs overlap, so a profiled run is slower than an unprofiled one: compare its shares,
 * not its totals.
 */
public final class ForwardProfile {

    /** Totals of one kind of forward. */
    private static final class Totals {
        int batches;
        long rows;
        long tokens;
        long paddedTokens;
        long pastEntries;
        long paddedPastEntries;
        long nanos;
    }

    private final TorchRuntime runtime;
    private final Map<String, Totals> byKind = new TreeMap<>();

    public ForwardProfile(TorchRuntime runtime) {
        this.runtime = runtime;
    }

    /** Called before a batch is issued: waits for the work issued before it. */
    long start() {
        runtime.cudaSynchronize();
        return System.nanoTime();
    }

    /** Called after a batch's forward returned: waits for it, and books it. */
    void batch(List<ForwardRequest> batch, long startNanos) {
        runtime.cudaSynchronize();
        long nanos = System.nanoTime() - startNanos;
        int width = 0;
        int pastWidth = 0;
        boolean probs = false;
        for (ForwardRequest r : batch) {
            width = Math.max(width, r.ids().length);
            pastWidth = Math.max(pastWidth, r.past().length());
            probs |= r.attentionProbs();
        }
        String kind = (pastWidth == 0 ? "prefill" : "continuation") + (probs ? "+probs" : "");
        Totals t = byKind.computeIfAbsent(kind, k -> new Totals());
        t.batches++;
        t.rows += batch.size();
        t.paddedTokens += (long) batch.size() * width;
        t.paddedPastEntries += (long) batch.size() * pastWidth;
        for (ForwardRequest r : batch) {
            t.tokens += r.ids().length;
            t.pastEntries += r.past().length();
        }
        t.nanos += nanos;
    }

    /** Rows run so far per kind of forward ("prefill", "continuation", "+probs" when probabilities were returned). */
    Map<String, Long> rowsByKind() {
        Map<String, Long> rows = new TreeMap<>();
        byKind.forEach((kind, t) -> rows.put(kind, t.rows));
        return rows;
    }

    /** New tokens (unpadded) run so far per kind of forward. */
    Map<String, Long> tokensByKind() {
        Map<String, Long> tokens = new TreeMap<>();
        byKind.forEach((kind, t) -> tokens.put(kind, t.tokens));
        return tokens;
    }

    /** Forward time booked so far, in seconds. */
    public double forwardSeconds() {
        return byKind.values().stream().mapToLong(t -> t.nanos).sum() / 1e9;
    }

    /** One line per kind of forward, then the share of {@code wallSeconds} spent outside forwards. */
    public String report(double wallSeconds) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, Totals> e : byKind.entrySet()) {
            Totals t = e.getValue();
            sb.append(String.format(Locale.ROOT,
                    "  %-20s %5d batches %7d rows %9d tokens (padded %9d, %4.1f%% padding) past %9d (padded %9d) %9.1f ms"
                            + " = %6.0f tokens/s%n",
                    e.getKey(), t.batches, t.rows, t.tokens, t.paddedTokens,
                    100.0 * (t.paddedTokens - t.tokens) / Math.max(1, t.paddedTokens), t.pastEntries, t.paddedPastEntries,
                    t.nanos / 1e6, t.tokens / (t.nanos / 1e9)));
        }
        double forwards = forwardSeconds();
        sb.append(String.format(Locale.ROOT, "  forwards %.2f s of %.2f s wall; outside forwards %.2f s (%.0f%%)%n",
                forwards, wallSeconds, wallSeconds - forwards, 100 * (wallSeconds - forwards) / wallSeconds));
        return sb.toString();
    }

    public void reset() {
        byKind.clear();
    }
}
