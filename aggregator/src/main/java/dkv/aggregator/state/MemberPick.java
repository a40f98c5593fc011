package dkv.aggregator.state;

import dkv.aggregator.stats.AverageRanks;
import dkv.avro.DerivedKind;

/**
 * Which member a derived condition takes for one sample, by the research's pool routers (lab notebook v1 exp 06):
 * ROUTED the highest query similarity (what a deployed system could do before seeing the answer), ROUTED_BY_NLL the
 * lowest signal NLL (the cache that best predicts the real query), RANK_AVERAGE the lowest mean of the similarity
 * rank (highest first) and the signal-NLL rank (lowest first), each rank averaged over ties as SciPy's
 * {@code rankdata}, and BEST_OF the lowest NLL (the research's hindsight "oracle best-of-k"). Ties go to the member
 * listed first — as the notebook's {@code max}/{@code min} over a dict and {@code np.argmin} — so the plan's member
 * order settles them identically on every replay.
 */
final class MemberPick {
    /** No pick: a member without a similarity leaves nothing to route by. */
    static final int NONE = -1;

    private MemberPick() {}

    /**
     * @param nll        the members' NLLs, in members order (all present)
     * @param similarity the members' query similarities in members order, NaN where a record had none; null where
     *                   the kind does not read them
     * @param signal     the members' signal NLLs in members order (all present); null where the kind has no signals
     * @return the index of the picked member, or {@link #NONE}
     */
    static int of(DerivedKind kind, double[] nll, double[] similarity, double[] signal) {
        return switch (kind) {
            case ROUTED -> highest(similarity);
            case BEST_OF -> lowest(nll);
            case ROUTED_BY_NLL -> lowest(signal);
            case RANK_AVERAGE -> rankAverage(similarity, signal);
        };
    }

    /**
     * The notebook's combined router: {@code (rankdata(-similarity) + rankdata(signal)) / 2}, then the first minimum.
     * Ranks are integers or halves, so their sums compare exactly.
     */
    static int rankAverage(double[] similarity, double[] signal) {
        double[] negated = new double[similarity.length];
        for (int m = 0; m < similarity.length; m++) {
            if (Double.isNaN(similarity[m])) {
                return NONE; // as routed: ranking the others would rank a smaller pool than the plan says
            }
            negated[m] = -similarity[m];
        }
        double[] bySimilarity = AverageRanks.of(negated);
        double[] bySignal = AverageRanks.of(signal);
        double[] mean = new double[similarity.length];
        for (int m = 0; m < mean.length; m++) {
            mean[m] = (bySimilarity[m] + bySignal[m]) / 2;
        }
        return lowest(mean);
    }

    static int highest(double[] values) {
        int best = NONE;
        for (int m = 0; m < values.length; m++) {
            if (Double.isNaN(values[m])) {
                // routing over the others would silently route over a smaller pool than the plan says
                return NONE;
            }
            if (best == NONE || values[m] > values[best]) {
                best = m;
            }
        }
        return best;
    }

    static int lowest(double[] values) {
        int best = NONE;
        for (int m = 0; m < values.length; m++) {
            if (best == NONE || values[m] < values[best]) {
                best = m;
            }
        }
        return best;
    }
}
