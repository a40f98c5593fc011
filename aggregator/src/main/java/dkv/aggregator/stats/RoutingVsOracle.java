package dkv.aggregator.stats;

/**
 * How close a router (by cosine, by query NLL, or by their rank average) gets to the hindsight oracle over the same
 * members (RESEARCH-FACTS "Surrogates": routing vs oracle best-of-5; lab notebook v1 exp 06's "agreement with
 * oracle" and "routing efficiency"), on samples where the baseline, the routed and the best-of NLL are all known:
 * <ul>
 *   <li>agreement: the fraction of samples where the routed pick is a best pick. Picks are compared by NLL, not
 *       by member name: two members with identical surrogates have identical NLLs, and routing to either one
 *       reaches the oracle, although the oracle's tie rule names the first;</li>
 *   <li>gap closed: mean δ_routed / mean δ_best_of, reported like {@link OracleGapShare} only where the best-of
 *       effect on these samples is clearly non-zero (its 95% CI excludes 0).</li>
 * </ul>
 */
public record RoutingVsOracle(long n, double agreement, double routedMeanDelta, double bestOfMeanDelta,
                              Double gapClosed) {

    /** The three NLLs of each sample, aligned by index. */
    public static RoutingVsOracle of(double[] baselineNll, double[] routedNll, double[] bestOfNll) {
        int n = baselineNll.length;
        if (n == 0) {
            return new RoutingVsOracle(0, Double.NaN, Double.NaN, Double.NaN, null);
        }
        double[] routed = new double[n];
        double[] best = new double[n];
        int agree = 0;
        for (int i = 0; i < n; i++) {
            routed[i] = baselineNll[i] - routedNll[i];
            best[i] = baselineNll[i] - bestOfNll[i];
            // both values are copies of member NLLs, so equality is exact
            if (routedNll[i] == bestOfNll[i]) {
                agree++;
            }
        }
        double routedMean = Moments.mean(routed);
        DeltaSummary oracle = DeltaSummary.of(best);
        return new RoutingVsOracle(n, (double) agree / n, routedMean, oracle.mean(),
                OracleGapShare.of(routedMean, oracle.mean(), oracle.ci95Lo(), oracle.ci95Hi()));
    }
}
