package dkv.aggregator.state;

import dkv.avro.DerivedKind;

/**
 * Which member a derived condition takes for one sample: ROUTED the highest query similarity (what a deployed
 * system could do before seeing the answer), BEST_OF the lowest NLL (the research's hindsight "oracle best-of-k").
 * Ties go to the member listed first, so the plan's member order settles them identically on every replay.
 */
final class MemberPick {
    /** No pick: a ROUTED member without a similarity leaves nothing to route by. */
    static final int NONE = -1;

    private MemberPick() {}

    /**
     * @param nll        the members' NLLs, in members order (all present)
     * @param similarity the members' query similarities in members order, NaN where a record had none
     * @return the index of the picked member, or {@link #NONE}
     */
    static int of(DerivedKind kind, double[] nll, double[] similarity) {
        return switch (kind) {
            case ROUTED -> highest(similarity);
            case BEST_OF -> lowest(nll);
        };
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
