package dkv.aggregator.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.aggregator.DerivedScores;
import dkv.aggregator.json.StatsJson;
import dkv.avro.DerivedKind;
import dkv.avro.DerivedStats;
import dkv.avro.PairedStats;
import dkv.avro.RoutingAgreement;
import dkv.avro.ScoreRecord;
import dkv.avro.StatsSnapshot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Derived conditions in the live state: when a sample is derived, what is picked, and that the rest is shared. */
class DerivedConditionsTest {
    static final List<String> MEMBERS = List.of("a", "b", "c");

    static ExperimentState state(int plannedConditions) {
        return new ExperimentState("e", new ExperimentPlan("bare", "best", List.of(), List.of(), 0, plannedConditions,
                0.05, 100, List.of(new ExperimentPlan.Derived("routed", DerivedKind.ROUTED, MEMBERS),
                new ExperimentPlan.Derived("best", DerivedKind.BEST_OF, MEMBERS))));
    }

    static Score score(String sample, String condition, double nll, Double similarity) {
        return new Score("e", sample, condition, nll, 0, null, null, similarity);
    }

    static Optional<PairedStats> condition(StatsSnapshot s, String name) {
        return s.getConditions().stream().filter(p -> p.getName().equals(name)).findFirst();
    }

    static DerivedStats derived(StatsSnapshot s, String name) {
        return s.getDerived().stream().filter(d -> d.getName().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void picksTheHighestSimilarityOrTheLowestNllAndTheFirstMemberOnTies() {
        assertEquals(1, MemberPick.of(DerivedKind.ROUTED, new double[] {3, 2, 1}, new double[] {0.1, 0.7, 0.7}, null));
        assertEquals(2, MemberPick.of(DerivedKind.BEST_OF, new double[] {3, 2, 1}, null, null));
        assertEquals(0, MemberPick.of(DerivedKind.BEST_OF, new double[] {1, 2, 1}, null, null));
        assertEquals(MemberPick.NONE, MemberPick.of(DerivedKind.ROUTED, new double[] {1, 2, 3},
                new double[] {0.9, Double.NaN, 0.1}, null), "a member without similarity: no routing");
        assertEquals(0, MemberPick.of(DerivedKind.ROUTED, new double[] {1, 2}, new double[] {-0.0, 0.0}, null),
                "-0.0 and 0.0 tie: the first member");
    }

    /** Lab notebook v1 exp 06's routers 14 and 15: lowest query NLL; mean of rankdata(-similarity), rankdata(NLL). */
    @Test
    void picksTheLowestSignalOrTheBestMeanRank() {
        double[] nll = {9, 9, 9, 9};
        assertEquals(3, MemberPick.of(DerivedKind.ROUTED_BY_NLL, nll, null, new double[] {3.0, 2.0, 2.5, 1.0}));
        assertEquals(1, MemberPick.of(DerivedKind.ROUTED_BY_NLL, nll, null, new double[] {3.0, 1.0, 2.5, 1.0}),
                "ties: the first member");
        // similarity ranks 1, 2.5, 2.5, 4 and signal ranks 4, 2, 3, 1: means 2.5, 2.25, 2.75, 2.5 pick the second,
        // which neither the most similar (first) nor the lowest signal (last) is
        assertEquals(1, MemberPick.of(DerivedKind.RANK_AVERAGE, nll, new double[] {0.9, 0.5, 0.5, 0.1},
                new double[] {3.0, 2.0, 2.5, 1.0}));
        // tied similarities share the mean of their ranks (1, 3, 3, 3; signal ranks 3, 1, 2, 4): means 2, 2, 2.5, 3 tie
        // the first two and the first is taken; minimum ranks (1, 2, 2, 2) or ordinal ones would take the second
        assertEquals(0, MemberPick.of(DerivedKind.RANK_AVERAGE, nll, new double[] {0.9, 0.5, 0.5, 0.5},
                new double[] {3.0, 1.0, 2.0, 4.0}));
        assertEquals(0, MemberPick.of(DerivedKind.RANK_AVERAGE, new double[] {1, 2}, new double[] {-0.0, 0.0},
                new double[] {1.0, 1.0}), "-0.0 and 0.0 share a rank: all tie, the first member");
        assertEquals(MemberPick.NONE, MemberPick.of(DerivedKind.RANK_AVERAGE, nll, new double[] {0.9, Double.NaN, 0.5, 0.1},
                new double[] {3.0, 2.0, 2.5, 1.0}), "a member without similarity: no rank to average");
    }

    static ExperimentState signalState() {
        return new ExperimentState("e", new ExperimentPlan("bare", "best", List.of(), List.of(), 0, 7, 0.05, 100, List.of(
                new ExperimentPlan.Derived("by_nll", DerivedKind.ROUTED_BY_NLL, MEMBERS, List.of("qa", "qb", "qc")),
                new ExperimentPlan.Derived("ranked", DerivedKind.RANK_AVERAGE, MEMBERS, List.of("qa", "qb", "qc")),
                new ExperimentPlan.Derived("best", DerivedKind.BEST_OF, MEMBERS))));
    }

    /** Signals are scored records that only route: counted, never compared with the baseline. */
    @Test
    void signalRoutersWaitForEverySignalAndSignalsAreNotCompared() {
        ExperimentState state = signalState();
        state.accept(score("s1", "bare", 2.0, null));
        state.accept(score("s1", "a", 1.8, 0.9));
        state.accept(score("s1", "b", 1.1, 0.5));
        state.accept(score("s1", "c", 1.5, 0.1));
        state.accept(score("s1", "qa", 3.0, null));
        state.accept(score("s1", "qb", 2.5, null));
        StatsSnapshot waiting = state.snapshot(0, 0);
        assertTrue(condition(waiting, "by_nll").isEmpty() && condition(waiting, "ranked").isEmpty(), "qc is missing");
        assertEquals(1, derived(waiting, "by_nll").getAwaitingSamples(), "members complete, a signal missing");
        assertEquals(0, derived(waiting, "best").getAwaitingSamples());
        assertTrue(condition(waiting, "best").isPresent());

        state.accept(score("s1", "qc", 1.0, null)); // the signal completes the sample
        StatsSnapshot done = state.snapshot(0, 0);
        assertEquals(2.0 - 1.5, condition(done, "by_nll").orElseThrow().getMeanDelta(), 1e-15, "c: the lowest signal");
        // similarity ranks 1, 2, 3 and signal ranks 3, 2, 1: all tie at 2, so the first member
        assertEquals(2.0 - 1.8, condition(done, "ranked").orElseThrow().getMeanDelta(), 1e-15);
        assertEquals(DerivedKind.RANK_AVERAGE, condition(done, "ranked").orElseThrow().getDerivedKind());
        assertEquals(List.of("qa", "qb", "qc"), derived(done, "ranked").getSignals());
        assertEquals(List.of(), derived(done, "best").getSignals());
        assertEquals(List.of(0L, 0L, 1L), derived(done, "by_nll").getMemberPicks());
        for (String signal : List.of("qa", "qb", "qc")) {
            assertTrue(condition(done, signal).isEmpty(), signal + " holds a query NLL: no comparison with the baseline");
        }
        assertEquals(List.of("a", "b", "best", "by_nll", "c", "ranked"),
                done.getConditions().stream().map(PairedStats::getName).sorted().toList(), "compared with the baseline");
        assertEquals(7, done.getRecords(), "signals are scored records");
        assertEquals(1, done.getCompleteSamples());
        assertEquals(List.of("by_nll|best", "ranked|best"), done.getRouting().stream()
                .map(r -> r.getRouted() + "|" + r.getBestOf()).toList(), "every router against the oracle");
        assertEquals(0.0, done.getRouting().getFirst().getAgreement(), "c is not b, the best");
    }

    @Test
    void onlyTheSimilarityRouterNeedsSimilarities() {
        ExperimentState state = signalState();
        for (String condition : List.of("bare", "a", "b", "c")) {
            state.accept(score("s1", condition, condition.equals("b") ? 1.0 : 2.0, null));
        }
        for (String signal : List.of("qa", "qb", "qc")) {
            state.accept(score("s1", signal, signal.equals("qb") ? 0.5 : 3.0, null));
        }
        StatsSnapshot s = state.snapshot(0, 0);
        assertEquals(1, derived(s, "by_nll").getSamples());
        assertEquals(1, derived(s, "ranked").getUnroutableSamples());
        assertEquals(0, derived(s, "ranked").getAwaitingSamples());
        assertEquals(1.0, condition(s, "by_nll").orElseThrow().getMeanDelta(), 1e-15);
    }

    @Test
    void aSampleIsDerivedOnlyOnceEveryMemberIsScored() {
        ExperimentState state = state(4);
        state.accept(score("s1", "bare", 2.0, null));
        state.accept(score("s1", "a", 1.8, 0.2));
        state.accept(score("s1", "b", 1.1, 0.3));
        StatsSnapshot waiting = state.snapshot(0, 0);
        assertTrue(condition(waiting, "routed").isEmpty() && condition(waiting, "best").isEmpty(),
                "not derived while c is missing: " + waiting.getConditions());
        assertEquals(0, derived(waiting, "routed").getSamples());
        assertEquals(1, derived(waiting, "routed").getAwaitingSamples());
        assertEquals(1, derived(waiting, "best").getAwaitingSamples());

        state.accept(score("s1", "c", 1.5, 0.9));
        StatsSnapshot done = state.snapshot(0, 0);
        PairedStats routed = condition(done, "routed").orElseThrow();
        PairedStats best = condition(done, "best").orElseThrow();
        assertEquals(2.0 - 1.5, routed.getMeanDelta(), 1e-15, "routed to c, the most similar");
        assertEquals(2.0 - 1.1, best.getMeanDelta(), 1e-15, "the oracle takes b, the lowest NLL");
        assertEquals(DerivedKind.ROUTED, routed.getDerivedKind());
        assertEquals(DerivedKind.BEST_OF, best.getDerivedKind());
        assertNull(condition(done, "a").orElseThrow().getDerivedKind());
        assertEquals(List.of(0L, 0L, 1L), derived(done, "routed").getMemberPicks());
        assertEquals(List.of(0L, 1L, 0L), derived(done, "best").getMemberPicks());
        assertEquals(0, derived(done, "routed").getAwaitingSamples());
        assertEquals(4, done.getRecords(), "derived NLLs are not scored records");
        assertEquals(1, done.getCompleteSamples());
        assertEquals(0.0, done.getRouting().getFirst().getAgreement());
    }

    @Test
    void duplicatesChangeNeitherThePickNorTheCounts() {
        ExperimentState state = state(4);
        state.accept(score("s1", "bare", 2.0, null));
        state.accept(score("s1", "a", 1.8, 0.2));
        state.accept(score("s1", "b", 1.1, 0.3));
        state.accept(score("s1", "c", 1.5, 0.9));
        StatsSnapshot before = state.snapshot(0, 0);
        // a re-delivery of a with another NLL and the highest similarity: the first record of a stays
        assertFalse(state.accept(score("s1", "a", 0.5, 0.99)));
        assertFalse(state.accept(score("s1", "c", 1.5, 0.9)));
        // compared as JSON: Avro's equals does not take NaN (undefined at n = 1) as equal to itself
        assertEquals(StatsJson.experiment(before), StatsJson.experiment(state.snapshot(0, 0)));
        assertEquals(2, state.duplicates());
        assertEquals(1, state.conflictingDuplicates());
    }

    @Test
    void aMemberWithoutSimilarityMakesRoutingImpossibleForThatSampleOnly() {
        ExperimentState state = state(4);
        for (String sample : List.of("s1", "s2")) {
            state.accept(score(sample, "bare", 2.0, null));
            state.accept(score(sample, "a", 1.8, 0.2));
            state.accept(score(sample, "b", 1.1, sample.equals("s1") ? null : 0.3));
            state.accept(score(sample, "c", 1.5, 0.1));
        }
        StatsSnapshot s = state.snapshot(0, 0);
        assertEquals(1, derived(s, "routed").getSamples());
        assertEquals(1, derived(s, "routed").getUnroutableSamples());
        assertEquals(0, derived(s, "routed").getAwaitingSamples(), "unroutable is not waiting");
        assertEquals(1, condition(s, "routed").orElseThrow().getN());
        assertEquals(2, condition(s, "best").orElseThrow().getN(), "best_of needs no similarity");
        assertEquals(0, derived(s, "best").getUnroutableSamples());
    }

    @Test
    void aScoredRecordUnderADerivedNameIsRefused() {
        ExperimentState state = state(4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> state.accept(score("s1", "routed", 1.0, null)));
        assertTrue(e.getMessage().contains("derives this condition"), e.getMessage());
        assertEquals(0, state.records());
    }

    @Test
    void rankingUnitsGetNoDerivedColumns() {
        ExperimentState state = state(4);
        for (String condition : List.of("bare", "a", "b", "c")) {
            state.accept(new Score("e", "q1", condition, 1.0 + condition.length(), 0, null,
                    new Score.Candidate("p1", 1.0), 0.5));
        }
        StatsSnapshot s = state.snapshot(0, 0);
        assertTrue(condition(s, "routed").isEmpty() && condition(s, "best").isEmpty());
        assertEquals(0, derived(s, "best").getSamples());
        assertEquals(4, s.getRanking().getConditions().size(), "the ranking table has the scored conditions only");
    }

    /**
     * The derived NLL takes the path of a scored condition: the same experiment with the derived NLLs fed as
     * records right after the completing member gives the same statistics, anytime monitors and Holm included.
     */
    @Test
    void derivedStatisticsEqualThoseOfTheSameNllsScored() {
        List<ScoreRecord> records = new ArrayList<>(DerivedScores.records("e", 300, 11));
        Collections.shuffle(records, new Random(12));
        ExperimentState derived = new ExperimentState("e", ExperimentPlan.of(records.getFirst().getMeta(), 0.05));
        ExperimentPlan plain = ExperimentPlan.of(records.getFirst().getMeta(), 0.05);
        ExperimentState scored = new ExperimentState("e", new ExperimentPlan(plain.baseline(), plain.oracle(),
                plain.contrasts(), plain.correlations(), plain.plannedSamples(), plain.plannedConditions(), plain.alpha(),
                plain.nStar()));
        java.util.Map<String, java.util.Map<String, ScoreRecord>> bySample = new java.util.HashMap<>();
        for (ScoreRecord r : records) {
            derived.accept(Score.of(r));
            scored.accept(Score.of(r));
            var members = bySample.computeIfAbsent(r.getSampleId(), k -> new java.util.HashMap<>());
            members.put(r.getCondition(), r);
            if (DerivedScores.MEMBERS.contains(r.getCondition()) && members.keySet().containsAll(DerivedScores.MEMBERS)) {
                ScoreRecord routed = DerivedScores.MEMBERS.stream().map(members::get)
                        .reduce((x, y) -> y.getQuerySimilarity() > x.getQuerySimilarity() ? y : x).orElseThrow();
                ScoreRecord best = DerivedScores.MEMBERS.stream().map(members::get)
                        .reduce((x, y) -> y.getNllMean() < x.getNllMean() ? y : x).orElseThrow();
                scored.accept(new Score("e", r.getSampleId(), "routed", routed.getNllMean(), 0, null));
                scored.accept(new Score("e", r.getSampleId(), "best", best.getNllMean(), 0, null));
            }
        }
        StatsSnapshot a = derived.snapshot(0, 0);
        StatsSnapshot b = scored.snapshot(0, 0);
        assertEquals(5, a.getConditions().size(), "three members and two derived against the baseline");
        for (String name : List.of("gen_a", "routed", "best")) {
            PairedStats x = condition(a, name).orElseThrow();
            PairedStats y = PairedStats.newBuilder(condition(b, name).orElseThrow()).setDerivedKind(x.getDerivedKind()).build();
            assertEquals(y, x, name);
        }
        PairedStats routed = condition(a, "routed").orElseThrow();
        assertEquals(300, routed.getN());
        assertEquals(5, routed.getQuintileMeanDelta().size());
        assertTrue(routed.getHolmP() >= routed.getTP() && routed.getBonferroniP() <= Math.min(1, 5 * routed.getTP()) + 1e-15);
        assertEquals(routed.getMeanDelta() / condition(a, "best").orElseThrow().getMeanDelta(),
                routed.getOracleGapShare(), 1e-12, "a derived best_of can be the oracle");
        assertEquals(1200, a.getRecords());
        assertEquals(300, a.getCompleteSamples());
        assertTrue(a.getFinal$());
        RoutingAgreement r = a.getRouting().getFirst();
        assertEquals(300, r.getN());
        assertTrue(r.getAgreement() > 1.0 / 3 && r.getAgreement() < 1, "similarity tracks the effect loosely: " + r);
        assertEquals(routed.getMeanDelta() / r.getBestOfMeanDelta(), r.getGapClosed(), 1e-12);
    }

    @Test
    void routingIsComparedWithTheBestOfOverTheSameMembersInAnyOrder() {
        ExperimentState state = new ExperimentState("e", new ExperimentPlan("bare", null, List.of(), List.of(), 0, 4,
                0.05, 100, List.of(new ExperimentPlan.Derived("r", DerivedKind.ROUTED, List.of("a", "b", "c")),
                new ExperimentPlan.Derived("o", DerivedKind.BEST_OF, List.of("c", "a", "b")),
                new ExperimentPlan.Derived("o2", DerivedKind.BEST_OF, List.of("a", "b")))));
        double[][] nll = {{1.0, 1.2, 1.5}, {1.4, 1.0, 1.3}, {1.1, 1.1, 1.6}, {1.7, 1.2, 1.0}};
        double[][] sim = {{0.9, 0.1, 0.1}, {0.9, 0.1, 0.1}, {0.1, 0.9, 0.1}, {0.1, 0.1, 0.9}};
        for (int i = 0; i < nll.length; i++) {
            state.accept(score("s" + i, "bare", 2.0, null));
            for (int m = 0; m < 3; m++) {
                state.accept(score("s" + i, List.of("a", "b", "c").get(m), nll[i][m], sim[i][m]));
            }
        }
        StatsSnapshot s = state.snapshot(0, 0);
        assertEquals(1, s.getRouting().size(), "o2 has other members: " + s.getRouting());
        RoutingAgreement r = s.getRouting().getFirst();
        assertEquals("r", r.getRouted());
        assertEquals("o", r.getBestOf());
        // routed takes a, a, b, c: best in s0, s3, and in s2 b ties with a at the minimum
        assertEquals(0.75, r.getAgreement(), 1e-15);
        assertEquals((1.0 + 0.6 + 0.9 + 1.0) / 4, r.getRoutedMeanDelta(), 1e-12);
        assertEquals((1.0 + 1.0 + 0.9 + 1.0) / 4, r.getBestOfMeanDelta(), 1e-12);
        assertEquals(r.getRoutedMeanDelta() / r.getBestOfMeanDelta(), r.getGapClosed(), 1e-12);
    }

    @Test
    void plansThatCannotBeDerivedAreRefused() {
        List<String> members = List.of("a", "b");
        assertThrows(IllegalArgumentException.class, () -> new ExperimentPlan("x", null, List.of(), List.of(), 0, 0, 0.05,
                100, List.of(new ExperimentPlan.Derived("x", DerivedKind.ROUTED, members))), "derived baseline");
        assertThrows(IllegalArgumentException.class, () -> new ExperimentPlan("bare", null, List.of(), List.of(), 0, 0,
                0.05, 100, List.of(new ExperimentPlan.Derived("x", DerivedKind.ROUTED, members),
                new ExperimentPlan.Derived("x", DerivedKind.BEST_OF, members))), "two named x");
        assertThrows(IllegalArgumentException.class, () -> new ExperimentPlan("bare", null, List.of(), List.of(), 0, 0,
                0.05, 100, List.of(new ExperimentPlan.Derived("x", DerivedKind.ROUTED, members),
                new ExperimentPlan.Derived("y", DerivedKind.BEST_OF, List.of("x", "a")))), "derived member");
        assertThrows(IllegalArgumentException.class, () -> new ExperimentPlan.Derived("x", DerivedKind.BEST_OF,
                List.of("a", "a")));
        assertEquals(new ExperimentPlan.Derived("r", DerivedKind.BEST_OF, members), ExperimentPlan.Derived.parse("r=best_of:a,b"));
        IllegalArgumentException kind = assertThrows(IllegalArgumentException.class,
                () -> ExperimentPlan.Derived.parse("r=oracle:a,b"));
        assertTrue(kind.getMessage().contains("routed, best_of, routed_by_nll or rank_average"), kind.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ExperimentPlan.Derived.parse("r=routed:a,,b"));
        assertThrows(IllegalArgumentException.class, () -> ExperimentPlan.Derived.parse("routed:a,b"));
    }

    @Test
    void signalsAreParsedAfterASlashAndNeverCompared() {
        List<String> members = List.of("a", "b");
        assertEquals(new ExperimentPlan.Derived("r", DerivedKind.ROUTED_BY_NLL, members, List.of("qa", "qb")),
                ExperimentPlan.Derived.parse("r=routed_by_nll:a,b/qa,qb"));
        String missing = assertThrows(IllegalArgumentException.class,
                () -> ExperimentPlan.Derived.parse("r=rank_average:a,b")).getMessage();
        assertTrue(missing.contains("needs one signal per member: 2 members, 0 signals"), missing);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ExperimentPlan.Derived.parse("r=routed:a,b/qa,qb"))
                .getMessage().contains("(routed) takes no signals"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ExperimentPlan.Derived.parse("r=routed_by_nll:a,b/qa,a"))
                .getMessage().contains("'a' is a signal and a member"));
        ExperimentPlan.Derived byNll = ExperimentPlan.Derived.parse("r=routed_by_nll:a,b/qa,qb");
        for (String where : List.of("baseline", "oracle", "contrast", "correlation", "member")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ExperimentPlan(
                    where.equals("baseline") ? "qa" : "bare", where.equals("oracle") ? "qb" : null,
                    where.equals("contrast") ? List.of(new ExperimentPlan.Pair(null, "r", "qa")) : List.of(),
                    where.equals("correlation") ? List.of(new ExperimentPlan.Pair(null, "qb", "a")) : List.of(), 0, 0,
                    0.05, 100, where.equals("member") ? List.of(byNll, new ExperimentPlan.Derived("o", DerivedKind.BEST_OF,
                            List.of("a", "qa"))) : List.of(byNll)), where);
            assertTrue(e.getMessage().contains("is a routing signal (it scores the query)"), where + ": " + e.getMessage());
        }
    }
}
