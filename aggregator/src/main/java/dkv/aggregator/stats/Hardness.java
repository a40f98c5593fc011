package dkv.aggregator.stats;

import java.util.Arrays;
import java.util.Comparator;
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
        Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
        // + 0.0 makes −0.0 equal to 0.0, as NumPy compares
        Arrays.sort(order, Comparator.comparingDouble(i -> referenceNll[i] + 0.0));
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

    public record HardSplit(long n, double meanDelta) {}

    public static HardSplit hard(double[] referenceNll, double[] delta) {
        double[] hard = IntStream.range(0, delta.length).filter(i -> referenceNll[i] > HARD_THRESHOLD)
                .mapToDouble(i -> delta[i]).toArray();
        return new HardSplit(hard.length, hard.length == 0 ? Double.NaN : Moments.mean(hard));
    }
}
