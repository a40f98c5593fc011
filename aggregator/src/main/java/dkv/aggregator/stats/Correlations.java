package dkv.aggregator.stats;

import org.apache.commons.math3.stat.correlation.PearsonsCorrelation;
import org.apache.commons.statistics.ranking.NaturalRanking;
import org.apache.commons.statistics.ranking.TiesStrategy;

/**
 * Pearson and Spearman correlation of two conditions' δ over their common samples. Spearman is Pearson on average
 * ranks (as SciPy's {@code spearmanr}); ranking treats −0.0 and 0.0 as a tie, as SciPy does.
 */
public record Correlations(long n, double pearson, double spearman) {
    private static final NaturalRanking AVERAGE_RANKS = new NaturalRanking(TiesStrategy.AVERAGE);

    public static Correlations of(double[] x, double[] y) {
        if (x.length < 3) {
            return new Correlations(x.length, Double.NaN, Double.NaN);
        }
        PearsonsCorrelation pearson = new PearsonsCorrelation();
        return new Correlations(x.length, pearson.correlation(x, y),
                pearson.correlation(ranks(x), ranks(y)));
    }

    /** −0.0 and 0.0 are one value (the ranking compares with Double.compare, which separates them). */
    private static double[] ranks(double[] values) {
        double[] normalized = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            normalized[i] = values[i] + 0.0;
        }
        return AVERAGE_RANKS.apply(normalized);
    }
}
