package dkv.aggregator.stats;

import org.apache.commons.statistics.ranking.NaturalRanking;
import org.apache.commons.statistics.ranking.TiesStrategy;

/**
 * Ranks 1..n in ascending order, tied values sharing the mean of their ranks: SciPy's {@code rankdata} with its
 * default {@code method="average"}, which both Spearman's r and the research's rank-average pool router use.
 * −0.0 and 0.0 are one value, as in SciPy (the underlying ranking compares with Double.compare, which separates them).
 */
public final class AverageRanks {
    private static final NaturalRanking AVERAGE = new NaturalRanking(TiesStrategy.AVERAGE);

    private AverageRanks() {}

    /** The ranks of {@code values} (no NaN), in their order. */
    public static double[] of(double[] values) {
        double[] normalized = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            normalized[i] = values[i] + 0.0;
        }
        return AVERAGE.apply(normalized);
    }
}
