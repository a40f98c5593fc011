package dkv.aggregator.stats;

import dkv.avro.PairedStats;
import dkv.avro.StatsSnapshot;
import java.util.Locale;

/**
 * Share of the oracle gap, mean δ_condition / mean δ_oracle (DESIGN.md "Aggregator statistics"), reported only
 * where the oracle's own effect is clearly non-zero: its 95% CI excludes 0. Where the oracle is
 * indistinguishable from the baseline the ratio divides by noise (a demo run showed 11631.8% and −464.5%), so
 * it is undefined (null) and the views say why.
 */
public final class OracleGapShare {

    private OracleGapShare() {
    }

    /** The share, or null when the oracle's CI [{@code oracleCiLo}, {@code oracleCiHi}] is undefined or holds 0. */
    public static Double of(double meanDelta, double oracleMean, double oracleCiLo, double oracleCiHi) {
        return oracleIsClear(oracleCiLo, oracleCiHi) ? meanDelta / oracleMean : null;
    }

    public static boolean oracleIsClear(double oracleCiLo, double oracleCiHi) {
        return oracleCiLo > 0 || oracleCiHi < 0; // false for NaN bounds (n < 2, zero spread)
    }

    /** Why a snapshot's conditions carry no share, in words for the views; null where they do. */
    public static String whyUndefined(StatsSnapshot s) {
        if (s.getOracle() == null) {
            return "no oracle condition in the plan";
        }
        PairedStats oracle = s.getConditions().stream().filter(p -> p.getName().equals(s.getOracle()))
                .findFirst().orElse(null);
        if (oracle == null) {
            return "the oracle (" + s.getOracle() + ") has no scores yet";
        }
        if (!Double.isFinite(oracle.getCi95Lo()) || !Double.isFinite(oracle.getCi95Hi())) {
            return "the oracle's 95% CI is undefined so far (n = " + oracle.getN() + ")";
        }
        if (!oracleIsClear(oracle.getCi95Lo(), oracle.getCi95Hi())) {
            return String.format(Locale.ROOT, "the oracle's mean δ (%.4g) is indistinguishable from 0: its 95%% CI "
                    + "[%.4g, %.4g] includes 0, so a share of it would divide by noise",
                    oracle.getMeanDelta(), oracle.getCi95Lo(), oracle.getCi95Hi());
        }
        return null;
    }
}
