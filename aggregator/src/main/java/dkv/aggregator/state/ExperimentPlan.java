package dkv.aggregator.state;

import dkv.avro.ConditionPair;
import dkv.avro.ExperimentMeta;
import java.util.List;
import java.util.Objects;

/**
 * What the aggregator needs to analyse one experiment: the baseline, the optional oracle, the named contrasts and
 * correlations, the planned size, and the confidence-sequence design (α, tuning sample size N*).
 */
public record ExperimentPlan(String baseline, String oracle, List<Pair> contrasts, List<Pair> correlations,
                             long plannedSamples, int plannedConditions, double alpha, double nStar) {

    public static final double DEFAULT_ALPHA = 0.05;
    /** N* when the plan does not say how many samples it has. */
    public static final double DEFAULT_N_STAR = 1000;

    /** A named pair of conditions; as a contrast δ = NLL_b − NLL_a (positive = a helps relative to b). */
    public record Pair(String name, String a, String b) {
        public Pair {
            Objects.requireNonNull(a, "pair condition a");
            Objects.requireNonNull(b, "pair condition b");
            if (a.equals(b)) {
                throw new IllegalArgumentException("pair " + a + ":" + b + " compares a condition with itself");
            }
            if (name == null || name.isEmpty()) {
                name = a + "|" + b;
            }
        }

        /** Parses {@code A:B} or {@code NAME=A:B}; the message names the offending text. */
        public static Pair parse(String text) {
            String name = null;
            String body = text;
            int eq = text.indexOf('=');
            if (eq >= 0) {
                name = text.substring(0, eq);
                body = text.substring(eq + 1);
            }
            String[] ab = body.split(":", -1);
            if (ab.length != 2 || ab[0].isEmpty() || ab[1].isEmpty()) {
                throw new IllegalArgumentException("expected A:B or NAME=A:B, got '" + text + "'");
            }
            return new Pair(name, ab[0], ab[1]);
        }
    }

    public ExperimentPlan {
        Objects.requireNonNull(baseline, "baseline");
        contrasts = List.copyOf(contrasts);
        correlations = List.copyOf(correlations);
    }

    /** The plan a score record carries; N* defaults to the planned sample count. */
    public static ExperimentPlan of(ExperimentMeta meta, double alpha) {
        double nStar = meta.getPlannedSamples() > 0 ? meta.getPlannedSamples() : DEFAULT_N_STAR;
        return new ExperimentPlan(meta.getBaseline(), meta.getOracle(), pairs(meta.getContrasts()),
                pairs(meta.getCorrelations()), meta.getPlannedSamples(), meta.getPlannedConditions(), alpha, nStar);
    }

    private static List<Pair> pairs(List<ConditionPair> pairs) {
        return pairs.stream().map(p -> new Pair(p.getName(), p.getA(), p.getB())).toList();
    }
}
