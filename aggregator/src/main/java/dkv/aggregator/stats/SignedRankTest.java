package dkv.aggregator.stats;

import java.util.Arrays;
import org.apache.commons.statistics.inference.ContinuityCorrection;
import org.apache.commons.statistics.inference.PValueMethod;
import org.apache.commons.statistics.inference.WilcoxonSignedRankTest;

/**
 * Two-sided Wilcoxon signed-rank p-value of paired differences, by the aggregator's rule: zeros are dropped
 * (Wilcoxon's method); exact when at most {@value #EXACT_MAX_N} non-zero differences remain and their absolute
 * values have no ties, else the normal approximation with tie and continuity correction. The rule is applied
 * here because commons-statistics' AUTO choice uses other limits (exact up to 50, ties ignored).
 */
public final class SignedRankTest {
    public static final int EXACT_MAX_N = 25;

    private static final WilcoxonSignedRankTest EXACT = WilcoxonSignedRankTest.withDefaults()
            .with(PValueMethod.EXACT);
    private static final WilcoxonSignedRankTest NORMAL = WilcoxonSignedRankTest.withDefaults()
            .with(PValueMethod.ASYMPTOTIC).with(ContinuityCorrection.ENABLED);

    private SignedRankTest() {}

    /** NaN when every difference is zero. */
    public static double pValue(double[] delta) {
        double[] nonZero = Arrays.stream(delta).filter(d -> d != 0).toArray();
        if (nonZero.length == 0) {
            return Double.NaN;
        }
        // the tie check sorts, so it runs only where the exact test is possible at all
        boolean exact = nonZero.length <= EXACT_MAX_N && !hasTiedMagnitudes(nonZero);
        return (exact ? EXACT : NORMAL).test(nonZero).getPValue();
    }

    static boolean hasTiedMagnitudes(double[] nonZero) {
        double[] abs = Arrays.stream(nonZero).map(Math::abs).sorted().toArray();
        for (int i = 1; i < abs.length; i++) {
            if (abs[i] == abs[i - 1]) {
                return true;
            }
        }
        return false;
    }
}
