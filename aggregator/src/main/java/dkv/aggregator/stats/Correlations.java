package dkv.aggregator.stats;

import org.apache.commons.math3.stat.correlation.PearsonsCorrelation;

/**
 * Pearson and Spearman correlation of two conditions' δ over their common samples. Spearman is Pearson on average
 * ranks ({@link AverageRanks}, as SciPy's {@code spearmanr}).
 */
public record Correlations(long n, double pearson, double spearman) {
    public static Correlations of(double[] x, double[] y) {
        if (x.length < 3) {
            return new Correlations(x.length, Double.NaN, Double.NaN);
        }
        PearsonsCorrelation pearson = new PearsonsCorrelation();
        return new Correlations(x.length, pearson.correlation(x, y),
                pearson.correlation(AverageRanks.of(x), AverageRanks.of(y)));
    }
}
