package dkv.aggregator.stats;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Two-sided paired randomization test of mean Δ = 0: under the null each Δ's sign is a fair coin, so the p-value
 * is the share of sign assignments whose |Σ ±Δ| reaches the observed |Σ Δ|. Zeros are dropped (their sign
 * changes nothing). With m non-zero values and 2^m ≤ {@code resamples} every assignment is enumerated (exact);
 * otherwise {@code resamples} random ones are drawn from a stream seeded by the seed and the comparison's name,
 * and p = (1 + hits) / (1 + resamples), which is never 0 and stays valid (Phipson &amp; Smyth 2010).
 */
public final class SignFlipTest {
    public static final int DEFAULT_RESAMPLES = 10_000;
    public static final long DEFAULT_SEED = 20261202L;
    /**
     * Sums of the same values with other signs can differ in the last bits although they are equal; a relative
     * slack this small only absorbs that (distinct sums of real data lie much further apart).
     */
    static final double RELATIVE_SLACK = 1e-10;

    private final int resamples;
    private final long seed;

    public SignFlipTest(int resamples, long seed) {
        if (resamples < 1) {
            throw new IllegalArgumentException("randomization resamples must be positive, got " + resamples);
        }
        this.resamples = resamples;
        this.seed = seed;
    }

    public static SignFlipTest withDefaults() {
        return new SignFlipTest(DEFAULT_RESAMPLES, DEFAULT_SEED);
    }

    public int resamples() {
        return resamples;
    }

    /** NaN without non-zero differences; {@code stream} names the comparison so each gets its own random stream. */
    public double pValue(double[] delta, String stream) {
        double[] d = Arrays.stream(delta).filter(v -> v != 0).toArray();
        if (d.length == 0) {
            return Double.NaN;
        }
        double observed = 0;
        double total = 0;
        for (double v : d) {
            observed += v;
            total += Math.abs(v);
        }
        double threshold = Math.abs(observed) - RELATIVE_SLACK * total;
        if (d.length < Integer.SIZE - 1 && (1 << d.length) <= resamples) {
            return exact(d, threshold);
        }
        SplittableRandom random = new SplittableRandom(seed ^ mix(stream));
        long hits = 0;
        for (int r = 0; r < resamples; r++) {
            double sum = 0;
            long bits = 0;
            for (int i = 0; i < d.length; i++) {
                if ((i & 63) == 0) {
                    bits = random.nextLong();
                }
                sum += (bits & 1) == 0 ? d[i] : -d[i];
                bits >>>= 1;
            }
            if (Math.abs(sum) >= threshold) {
                hits++;
            }
        }
        return (1.0 + hits) / (1.0 + resamples);
    }

    private static double exact(double[] d, double threshold) {
        int cases = 1 << d.length;
        long hits = 0;
        for (int signs = 0; signs < cases; signs++) {
            double sum = 0;
            for (int i = 0; i < d.length; i++) {
                sum += ((signs >>> i) & 1) == 0 ? d[i] : -d[i];
            }
            if (Math.abs(sum) >= threshold) {
                hits++;
            }
        }
        return (double) hits / cases;
    }

    /** A stable 64-bit hash of the name (String.hashCode is specified, so runs on any JVM agree). */
    private static long mix(String name) {
        long h = name.hashCode() * 0x9E3779B97F4A7C15L;
        return h ^ (h >>> 31);
    }
}
