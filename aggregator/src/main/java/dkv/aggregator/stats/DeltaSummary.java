package dkv.aggregator.stats;

import org.apache.commons.statistics.distribution.TDistribution;
import org.apache.commons.statistics.inference.TTest;

/**
 * Fixed-n summary of paired differences δ (positive = the condition helps): docs/architecture.md "Statistics".
 * Undefined values are NaN (sd and everything built on it below n = 2 or at zero spread).
 */
public record DeltaSummary(long n, double mean, double sd, double ci95Lo, double ci95Hi, double cohenDz,
                           double winRate, double tieRate, double tP, double wilcoxonP) {

    public static DeltaSummary of(double[] delta) {
        int n = delta.length;
        if (n == 0) {
            return new DeltaSummary(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN,
                    Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        }
        double mean = Moments.mean(delta);
        double sd = n >= 2 ? Moments.sd(delta, mean) : Double.NaN;
        int wins = 0;
        int ties = 0;
        for (double d : delta) {
            if (d > 0) {
                wins++;
            } else if (d == 0) {
                ties++;
            }
        }
        double lo = Double.NaN;
        double hi = Double.NaN;
        double dz = Double.NaN;
        double tP = Double.NaN;
        if (n >= 2 && sd > 0) {
            double half = TDistribution.of(n - 1).inverseSurvivalProbability(0.025) * sd / Math.sqrt(n);
            lo = mean - half;
            hi = mean + half;
            dz = mean / sd;
            tP = TTest.withDefaults().test(mean, sd * sd, n).getPValue();
        }
        return new DeltaSummary(n, mean, sd, lo, hi, dz, (double) wins / n, (double) ties / n, tP,
                SignedRankTest.pValue(delta));
    }
}
