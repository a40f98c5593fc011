package dkv.aggregator.stats;

import java.util.stream.IntStream;

/**
 * Effect by sample hardness, hardness being the reference condition's NLL: five equal groups of the samples
 * sorted by it (group sizes as NumPy's {@code array_split}: the first n mod 5 groups take one more) and the
 * "hard" split at NLL above {@value #HARD_THRESHOLD}.
 */
public final class Hardness {
    public static final double HARD_THRESHOLD = 3.0;
    public static final int GROUPS = 5;

    private Hardness() {}

    /**
     * Mean δ of each quintile, easiest first; NaN for an empty group. The sort is stable, so samples that tie on
     * the reference NLL keep their input order (callers pass samples in sample-id order).
     */
    public static double[] quintileMeans(double[] referenceNll, double[] delta) {
        int n = delta.length;
        int[] order = stableOrder(referenceNll);
        double[] means = new double[GROUPS];
        int base = n / GROUPS;
        int extra = n % GROUPS;
        int start = 0;
        for (int g = 0; g < GROUPS; g++) {
            int size = base + (g < extra ? 1 : 0);
            double[] group = new double[size];
            for (int k = 0; k < size; k++) {
                group[k] = delta[order[start + k]];
            }
            means[g] = size == 0 ? Double.NaN : Moments.mean(group);
            start += size;
        }
        return means;
    }

    /** Indices sorted by value, ties in index order (a merge sort: no boxing of 10⁵ indices per snapshot). */
    static int[] stableOrder(double[] values) {
        int[] order = IntStream.range(0, values.length).toArray();
        int[] buffer = new int[values.length];
        for (int width = 1; width < values.length; width *= 2) {
            for (int lo = 0; lo < values.length - width; lo += 2 * width) {
                int mid = lo + width;
                int hi = Math.min(lo + 2 * width, values.length);
                int i = lo;
                int j = mid;
                int k = lo;
                while (i < mid && j < hi) {
                    // + 0.0 makes −0.0 equal to 0.0, as NumPy compares; <= keeps the left (earlier) one first
                    buffer[k++] = values[order[i]] + 0.0 <= values[order[j]] + 0.0 ? order[i++] : order[j++];
                }
                while (i < mid) {
                    buffer[k++] = order[i++];
                }
                while (j < hi) {
                    buffer[k++] = order[j++];
                }
                System.arraycopy(buffer, lo, order, lo, hi - lo);
            }
        }
        return order;
    }

    public record HardSplit(long n, double meanDelta) {}

    public static HardSplit hard(double[] referenceNll, double[] delta) {
        double[] hard = IntStream.range(0, delta.length).filter(i -> referenceNll[i] > HARD_THRESHOLD)
                .mapToDouble(i -> delta[i]).toArray();
        return new HardSplit(hard.length, hard.length == 0 ? Double.NaN : Moments.mean(hard));
    }
}
