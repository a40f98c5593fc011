package dkv.aggregator.state;

import dkv.avro.ConditionPair;
import dkv.avro.DerivedKind;
import dkv.avro.ExperimentMeta;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * What the aggregator needs to analyse one experiment: the baseline, the optional oracle, the named contrasts and
 * correlations, the planned size, the confidence-sequence design (α, tuning sample size N*), and the derived
 * conditions it computes per sample from scored ones.
 */
public record ExperimentPlan(String baseline, String oracle, List<Pair> contrasts, List<Pair> correlations,
                             long plannedSamples, int plannedConditions, double alpha, double nStar,
                             List<Derived> derived) {

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

    /**
     * A condition picked per sample among scored members (DESIGN.md "Generated surrogates, embeddings and
     * routing"): ROUTED takes the member with the highest query similarity, BEST_OF the one with the lowest NLL;
     * ties go to the member listed first.
     */
    public record Derived(String name, DerivedKind kind, List<String> members) {
        public Derived {
            Objects.requireNonNull(kind, "derived kind");
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("a derived condition needs a name");
            }
            members = List.copyOf(members);
            if (members.isEmpty()) {
                throw new IllegalArgumentException("derived condition '" + name + "' has no members");
            }
            if (new HashSet<>(members).size() != members.size()) {
                throw new IllegalArgumentException("derived condition '" + name + "' lists a member twice: " + members);
            }
            if (members.contains(name)) {
                throw new IllegalArgumentException("derived condition '" + name + "' lists itself as a member");
            }
        }

        /** Parses {@code NAME=routed:A,B,C} or {@code NAME=best_of:A,B,C}; the message names the offending text. */
        public static Derived parse(String text) {
            int eq = text.indexOf('=');
            int colon = text.indexOf(':', eq + 1);
            if (eq <= 0 || colon < 0) {
                throw new IllegalArgumentException("expected NAME=routed:A,B,... or NAME=best_of:A,B,..., got '" + text + "'");
            }
            DerivedKind kind;
            try {
                kind = DerivedKind.valueOf(text.substring(eq + 1, colon).strip().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown derived kind '" + text.substring(eq + 1, colon)
                        + "' in '" + text + "' (expected routed or best_of)");
            }
            List<String> members = List.of(text.substring(colon + 1).split(",", -1));
            if (members.stream().anyMatch(String::isBlank)) {
                throw new IllegalArgumentException("empty member name in '" + text + "'");
            }
            return new Derived(text.substring(0, eq), kind, members);
        }
    }

    public ExperimentPlan {
        Objects.requireNonNull(baseline, "baseline");
        contrasts = List.copyOf(contrasts);
        correlations = List.copyOf(correlations);
        derived = List.copyOf(derived);
        Set<String> names = new HashSet<>();
        Set<String> members = new HashSet<>();
        for (Derived d : derived) {
            if (!names.add(d.name())) {
                throw new IllegalArgumentException("two derived conditions are named '" + d.name() + "'");
            }
            members.addAll(d.members());
        }
        // a derived condition is computed from scored ones only: as the baseline or a member it would have to be both
        for (String name : names) {
            if (name.equals(baseline) || members.contains(name)) {
                throw new IllegalArgumentException("derived condition '" + name + "' is also "
                        + (name.equals(baseline) ? "the baseline" : "a member of a derived condition")
                        + ", which must be scored conditions");
            }
        }
    }

    /** A plan without derived conditions. */
    public ExperimentPlan(String baseline, String oracle, List<Pair> contrasts, List<Pair> correlations,
                          long plannedSamples, int plannedConditions, double alpha, double nStar) {
        this(baseline, oracle, contrasts, correlations, plannedSamples, plannedConditions, alpha, nStar, List.of());
    }

    /** The plan a score record carries; N* defaults to the planned sample count. */
    public static ExperimentPlan of(ExperimentMeta meta, double alpha) {
        double nStar = meta.getPlannedSamples() > 0 ? meta.getPlannedSamples() : DEFAULT_N_STAR;
        List<Derived> derived = meta.getDerived().stream()
                .map(d -> new Derived(d.getName(), d.getKind(), d.getMembers())).toList();
        return new ExperimentPlan(meta.getBaseline(), meta.getOracle(), pairs(meta.getContrasts()),
                pairs(meta.getCorrelations()), meta.getPlannedSamples(), meta.getPlannedConditions(), alpha, nStar,
                derived);
    }

    /** The derived condition of that name, or null when {@code condition} is scored. */
    public Derived derived(String condition) {
        for (Derived d : derived) {
            if (d.name().equals(condition)) {
                return d;
            }
        }
        return null;
    }

    private static List<Pair> pairs(List<ConditionPair> pairs) {
        return pairs.stream().map(p -> new Pair(p.getName(), p.getA(), p.getB())).toList();
    }
}
