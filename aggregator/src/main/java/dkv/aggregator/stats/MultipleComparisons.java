package dkv.aggregator.stats;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/** Family-wise adjustments over an experiment's comparisons; NaN p-values are not counted in the family. */
public final class MultipleComparisons {
    private MultipleComparisons() {}

    public static double[] bonferroni(double[] p) {
        long m = Arrays.stream(p).filter(v -> !Double.isNaN(v)).count();
        return Arrays.stream(p).map(v -> Double.isNaN(v) ? v : Math.min(1.0, v * m)).toArray();
    }

    /** Holm's step-down: the i-th smallest p times (m − i), made monotone by a running maximum. */
    public static double[] holm(double[] p) {
        int[] order = IntStream.range(0, p.length).filter(i -> !Double.isNaN(p[i])).boxed()
                .sorted(Comparator.comparingDouble(i -> p[i])).mapToInt(Integer::intValue).toArray();
        double[] adjusted = new double[p.length];
        Arrays.fill(adjusted, Double.NaN);
        double running = 0;
        for (int rank = 0; rank < order.length; rank++) {
            running = Math.max(running, Math.min(1.0, (order.length - rank) * p[order[rank]]));
            adjusted[order[rank]] = running;
        }
        return adjusted;
    }
}
