package dkv.scorers.generate;

import java.util.Arrays;
import java.util.random.RandomGenerator;

/**
 * How the next token is chosen from one row's float32 logits, on the host so that a seed gives the same tokens on
 * every device: greedy (temperature 0: the first highest logit), else HF {@code generate}'s warpers in its order —
 * temperature, then top-k (tokens below the k-th highest logit dropped; ties kept), then top-p (the lowest tokens
 * dropped while their cumulative probability stays ≤ 1 − p; the highest always kept) — and one draw from the
 * renormalised distribution with the request's own generator.
 *
 * @param temperature 0 for greedy, else &gt; 0
 * @param topP        in (0, 1]; 1 keeps every token
 * @param topK        0 for no limit, else the number of highest tokens kept
 */
public record Sampling(double temperature, double topP, int topK) {

    /** Always the highest logit. */
    public static final Sampling GREEDY = new Sampling(0, 1, 0);

    public Sampling {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) throw new IllegalArgumentException("temperature must be ≥ 0, got " + temperature);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top-p must lie in (0, 1], got " + topP);
        if (topK < 0) throw new IllegalArgumentException("top-k must be ≥ 0 (0: no limit), got " + topK);
    }

    public boolean greedy() {
        return temperature == 0;
    }

    /**
     * The next token of the row {@code logits[from, from + vocab)}.
     *
     * @param random the request's generator (unused when greedy)
     */
    public int next(float[] logits, int from, int vocab, RandomGenerator random) {
        if (greedy()) return argmax(logits, from, vocab);
        double[] scores = new double[vocab];
        for (int i = 0; i < vocab; i++) scores[i] = logits[from + i] / temperature;
        if (topK > 0 && topK < vocab) {
            double kth = kthLargest(scores.clone(), topK);
            for (int i = 0; i < vocab; i++) if (scores[i] < kth) scores[i] = Double.NEGATIVE_INFINITY;
        }
        double max = Double.NEGATIVE_INFINITY;
        for (double s : scores) max = Math.max(max, s);
        if (max == Double.NEGATIVE_INFINITY || Double.isNaN(max)) throw new IllegalStateException("no finite logit to sample from");
        double[] p = new double[vocab];
        double total = 0;
        for (int i = 0; i < vocab; i++) {
            p[i] = Math.exp(scores[i] - max);
            total += p[i];
        }
        if (topP < 1) total = keepTopP(p, total);
        double r = random.nextDouble() * total;
        int last = -1;
        for (int i = 0; i < vocab; i++) {
            if (p[i] == 0) continue;
            last = i;
            r -= p[i];
            if (r < 0) return i;
        }
        return last; // rounding left a sliver: the last kept token
    }

    /** Index of the first highest value of {@code logits[from, from + vocab)}. */
    public static int argmax(float[] logits, int from, int vocab) {
        int best = 0;
        for (int i = 1; i < vocab; i++) if (logits[from + i] > logits[from + best]) best = i;
        return best;
    }

    /**
     * Zeroes the lowest tokens of {@code p} (unnormalised, summing to {@code total}) whose cumulative share stays
     * ≤ 1 − topP; returns the new total. Only tokens with a share of at least (1 − topP)/V are sorted: all those
     * below it sum to less than 1 − topP, come first in ascending order, and so are dropped anyway.
     */
    private double keepTopP(double[] p, double total) {
        int vocab = p.length;
        double drop = (1 - topP) * total;
        double floor = drop / vocab;
        int[] candidates = new int[vocab];
        int n = 0;
        double below = 0;
        for (int i = 0; i < vocab; i++) {
            if (p[i] >= floor) {
                candidates[n++] = i;
            } else {
                below += p[i];
                p[i] = 0;
            }
        }
        // ascending by share, ties by index (a fixed order, so a seed always means the same draw)
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = candidates[i];
        Arrays.sort(order, (a, b) -> p[a] != p[b] ? Double.compare(p[a], p[b]) : Integer.compare(b, a));
        double cumulative = below;
        double kept = 0;
        for (int j = 0; j < n; j++) {
            int i = order[j];
            cumulative += p[i];
            if (cumulative <= drop && j < n - 1) p[i] = 0;
            else kept += p[i];
        }
        return kept;
    }

    /** The k-th largest value (1-based) of {@code a}, which it reorders: quickselect, linear on average. */
    static double kthLargest(double[] a, int k) {
        int lo = 0;
        int hi = a.length - 1;
        int target = k - 1;
        java.util.SplittableRandom pivots = new java.util.SplittableRandom(a.length);
        while (lo < hi) {
            double pivot = a[lo + pivots.nextInt(hi - lo + 1)];
            int i = lo;
            int j = hi;
            while (i <= j) {
                while (a[i] > pivot) i++;
                while (a[j] < pivot) j--;
                if (i <= j) {
                    double t = a[i];
                    a[i] = a[j];
                    a[j] = t;
                    i++;
                    j--;
                }
            }
            if (target <= j) hi = j;
            else if (target >= i) lo = i;
            else return a[target];
        }
        return a[target];
    }
}
