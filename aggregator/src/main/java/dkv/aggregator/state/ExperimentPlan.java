package dkv.aggregator.state;

import dkv.avro.ConditionPair;
import dkv.avro.DerivedKind;
import dkv.avro.ExperimentMeta;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * What the aggregator needs to analyse one experiment: the baseline, the optional oracle, the named contrasts and
 * correlations, the planned size, the confidence-sequence design (α, tuning sample size N*), and the derived
 * conditions it computes per sample from scored ones (with the signal conditions some of them route by).
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
     * routing"): ROUTED takes the member with the highest query similarity, BEST_OF the one with the lowest NLL,
     * ROUTED_BY_NLL the one whose signal has the lowest NLL, RANK_AVERAGE the best mean of its similarity rank and its
     * signal rank ({@link MemberPick}); ties go to the member listed first.
     *
     * @param signals ROUTED_BY_NLL, RANK_AVERAGE: per member (members order) the scored condition that scores the
     *                query on that member's cache; its NLL is a routing input, not a condition to compare. Empty for
     *                the other kinds
     */
    public record Derived(String name, DerivedKind kind, List<String> members, List<String> signals) {
        public Derived {
            Objects.requireNonNull(kind, "derived kind");
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("a derived condition needs a name");
            }
            members = List.copyOf(members);
            signals = List.copyOf(signals);
            if (members.isEmpty()) {
                throw new IllegalArgumentException("derived condition '" + name + "' has no members");
            }
            if (new HashSet<>(members).size() != members.size()) {
                throw new IllegalArgumentException("derived condition '" + name + "' lists a member twice: " + members);
            }
            if (members.contains(name)) {
                throw new IllegalArgumentException("derived condition '" + name + "' lists itself as a member");
            }
            String word = kind.name().toLowerCase(Locale.ROOT);
            if (bySignal(kind) && signals.size() != members.size()) {
                throw new IllegalArgumentException("derived condition '" + name + "' (" + word + ") needs one signal per "
                        + "member: " + members.size() + " members, " + signals.size() + " signals");
            }
            if (!bySignal(kind) && !signals.isEmpty()) {
                throw new IllegalArgumentException("derived condition '" + name + "' (" + word + ") takes no signals");
            }
            if (new HashSet<>(signals).size() != signals.size()) {
                throw new IllegalArgumentException("derived condition '" + name + "' lists a signal twice: " + signals);
            }
            for (String signal : signals) {
                if (members.contains(signal) || signal.equals(name)) {
                    throw new IllegalArgumentException("derived condition '" + name + "': '" + signal + "' is a signal "
                            + "and a " + (signal.equals(name) ? "derived condition" : "member"));
                }
            }
        }

        /** A ROUTED or BEST_OF condition: no signals. */
        public Derived(String name, DerivedKind kind, List<String> members) {
            this(name, kind, members, List.of());
        }

        /** Whether the pick reads the members' query similarities (ROUTED, RANK_AVERAGE). */
        public boolean bySimilarity() {
            return kind == DerivedKind.ROUTED || kind == DerivedKind.RANK_AVERAGE;
        }

        /** Whether the pick reads the signals' NLLs (ROUTED_BY_NLL, RANK_AVERAGE). */
        public boolean bySignal() {
            return bySignal(kind);
        }

        private static boolean bySignal(DerivedKind kind) {
            return kind == DerivedKind.ROUTED_BY_NLL || kind == DerivedKind.RANK_AVERAGE;
        }

        /**
         * Parses {@code NAME=KIND:A,B,C} (routed, best_of) or {@code NAME=KIND:A,B,C/SA,SB,SC} (routed_by_nll,
         * rank_average: the signals after the slash, in members order); the message names the offending text.
         */
        public static Derived parse(String text) {
            int eq = text.indexOf('=');
            int colon = text.indexOf(':', eq + 1);
            if (eq <= 0 || colon < 0) {
                throw new IllegalArgumentException("expected NAME=KIND:A,B,... (or NAME=KIND:A,B,.../SA,SB,... with "
                        + "signals), got '" + text + "'");
            }
            DerivedKind kind;
            try {
                kind = DerivedKind.valueOf(text.substring(eq + 1, colon).strip().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown derived kind '" + text.substring(eq + 1, colon)
                        + "' in '" + text + "' (expected routed, best_of, routed_by_nll or rank_average)");
            }
            String lists = text.substring(colon + 1);
            int slash = lists.indexOf('/');
            List<String> members = names(slash < 0 ? lists : lists.substring(0, slash), text);
            List<String> signals = slash < 0 ? List.of() : names(lists.substring(slash + 1), text);
            return new Derived(text.substring(0, eq), kind, members, signals);
        }

        private static List<String> names(String list, String text) {
            List<String> names = List.of(list.split(",", -1));
            if (names.stream().anyMatch(String::isBlank)) {
                throw new IllegalArgumentException("empty condition name in '" + text + "'");
            }
            return names;
        }
    }

    public ExperimentPlan {
        Objects.requireNonNull(baseline, "baseline");
        contrasts = List.copyOf(contrasts);
        correlations = List.copyOf(correlations);
        derived = List.copyOf(derived);
        Set<String> names = new HashSet<>();
        Set<String> members = new HashSet<>();
        Set<String> signals = new HashSet<>();
        for (Derived d : derived) {
            if (!names.add(d.name())) {
                throw new IllegalArgumentException("two derived conditions are named '" + d.name() + "'");
            }
            members.addAll(d.members());
            signals.addAll(d.signals());
        }
        // a derived condition is computed from scored ones only: as the baseline or a member it would have to be both
        for (String name : names) {
            if (name.equals(baseline) || members.contains(name) || signals.contains(name)) {
                throw new IllegalArgumentException("derived condition '" + name + "' is also "
                        + (name.equals(baseline) ? "the baseline" : members.contains(name)
                                ? "a member of a derived condition" : "a signal of a derived condition")
                        + ", which must be scored conditions");
            }
        }
        // a signal's NLL is a query NLL: comparing it with answer NLLs would mean nothing
        List<String> compared = new ArrayList<>(List.of(baseline));
        if (oracle != null) {
            compared.add(oracle);
        }
        members.forEach(compared::add);
        for (Pair p : contrasts) {
            compared.add(p.a());
            compared.add(p.b());
        }
        for (Pair p : correlations) {
            compared.add(p.a());
            compared.add(p.b());
        }
        for (String name : compared) {
            if (signals.contains(name)) {
                throw new IllegalArgumentException("'" + name + "' is a routing signal (it scores the query); it cannot "
                        + "be the baseline, the oracle, a member, a contrast or a correlation, which compare answer NLLs");
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
                .map(d -> new Derived(d.getName(), d.getKind(), d.getMembers(), d.getSignals())).toList();
        return new ExperimentPlan(meta.getBaseline(), meta.getOracle(), pairs(meta.getContrasts()),
                pairs(meta.getCorrelations()), meta.getPlannedSamples(), meta.getPlannedConditions(), alpha, nStar,
                derived);
    }

    /** Whether {@code condition} is a routing signal of some derived condition: scored, but not compared. */
    public boolean isSignal(String condition) {
        for (Derived d : derived) {
            if (d.signals().contains(condition)) {
                return true;
            }
        }
        return false;
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
