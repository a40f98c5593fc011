package dkv.aggregator.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.aggregator.stats.RankingMetrics;
import dkv.avro.ExperimentMeta;
import dkv.avro.ModelRef;
import dkv.avro.RankingComparison;
import dkv.avro.RankingCondition;
import dkv.avro.RankingStats;
import dkv.avro.ScoreRecord;
import dkv.avro.SegmentTokens;
import dkv.avro.StatsSnapshot;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How ranking records enter an experiment's state: keys, completeness, exclusions, the final flag. */
class RankingStateTest {

    private static ExperimentPlan plan(long plannedQueries, int plannedConditions) {
        return new ExperimentPlan("bare", null, List.of(), List.of(), plannedQueries, plannedConditions, 0.05, 100);
    }

    private static Score score(String query, String candidate, String condition, double nll, double relevance) {
        return new Score("e", query, condition, nll, 0, null, new Score.Candidate(candidate, relevance));
    }

    private static RankingCondition condition(RankingStats r, String name) {
        return r.getConditions().stream().filter(c -> c.getName().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void theCandidateIsPartOfTheDeduplicationKey() {
        ExperimentState state = new ExperimentState("e", plan(0, 0));
        assertTrue(state.accept(score("q1", "a", "bare", 1.0, 1)));
        assertTrue(state.accept(score("q1", "b", "bare", 2.0, 0)), "another candidate of the same query and condition");
        assertFalse(state.accept(score("q1", "b", "bare", 2.5, 0)), "the same candidate again");
        assertEquals(2, state.records());
        assertEquals(1, state.duplicates());
        assertEquals(1, state.conflictingDuplicates());
        RankingStats r = state.snapshot(0, 0).getRanking();
        assertEquals(1, r.getQueries());
        assertEquals(2, r.getCandidates());
        // the first NLL of b (2.0) stays: a ranks first
        assertEquals(1.0, condition(r, "bare").getMrrAt10());
    }

    @Test
    void aQueryIsRankedUnderAConditionOnlyOnceEveryCandidateHasItsScore() {
        ExperimentState state = new ExperimentState("e", plan(1, 2));
        state.accept(score("q1", "a", "bare", 1.0, 1));
        state.accept(score("q1", "b", "bare", 2.0, 0));
        state.accept(score("q1", "a", "oracle", 0.5, 1));
        StatsSnapshot partial = state.snapshot(0, 0);
        assertEquals(0, condition(partial.getRanking(), "oracle").getQueries(), "oracle lacks candidate b");
        assertTrue(Double.isNaN(condition(partial.getRanking(), "oracle").getAuc()));
        assertEquals(0, partial.getRanking().getCompleteQueries());
        assertFalse(partial.getFinal$(), "3 of 4 records: not final although records >= planned queries x conditions");

        state.accept(score("q1", "b", "oracle", 0.4, 0));
        StatsSnapshot done = state.snapshot(0, 0);
        assertEquals(1, done.getRanking().getCompleteQueries());
        assertTrue(done.getFinal$(), "every planned query complete");
        assertEquals(0.0, condition(done.getRanking(), "oracle").getAuc());
        assertEquals(1.0, condition(done.getRanking(), "bare").getAuc());
        RankingComparison auc = done.getRanking().getComparisons().stream()
                .filter(c -> c.getMetric().equals("auc")).findFirst().orElseThrow();
        assertEquals("oracle", auc.getName());
        assertEquals(1, auc.getN());
        assertEquals(-1.0, auc.getMeanDelta());
    }

    @Test
    void queriesWithOneClassAreExcludedFromAucAndCounted() {
        ExperimentState state = new ExperimentState("e", plan(0, 0));
        state.accept(score("all-relevant", "a", "bare", 1.0, 1));
        state.accept(score("all-relevant", "b", "bare", 2.0, 0.1));
        state.accept(score("none-relevant", "a", "bare", 1.0, 0));
        state.accept(score("none-relevant", "b", "bare", 2.0, 0));
        state.accept(score("mixed", "a", "bare", 3.0, 1));
        state.accept(score("mixed", "b", "bare", 2.0, 0));
        RankingStats r = state.snapshot(0, 0).getRanking();
        assertEquals(2, r.getOneClassQueries());
        assertEquals(1, r.getNoRelevantQueries());
        RankingCondition bare = condition(r, "bare");
        assertEquals(1, bare.getAucQueries());
        assertEquals(0.0, bare.getAuc(), "the only AUC query ranks its relevant candidate last");
        assertEquals(2, bare.getQueries(), "MRR/nDCG keep the all-relevant query, drop the one without");
        assertEquals((1.0 + 0.5) / 2, bare.getMrrAt10());
    }

    @Test
    void tiedNllsRankByCandidateIdAndCountHalfInAuc() {
        double[] nll = {1.0, 1.0, 0.5};
        String[] ids = {"b", "a", "c"};
        assertEquals(List.of(2, 1, 0), java.util.Arrays.stream(RankingMetrics.rank(nll, ids)).boxed().toList());
        double[] relevance = {1, 0, 0};
        assertEquals(0.25, RankingMetrics.auc(nll, relevance), "vs a: tie (½), vs c: loses (0)");
        assertEquals(1.0 / 3, RankingMetrics.reciprocalRank(RankingMetrics.rank(nll, ids), relevance, 10));
    }

    @Test
    void nonRankingExperimentsHaveNoRankingStatistics() {
        ExperimentState state = new ExperimentState("e", plan(0, 0));
        state.accept(new Score("e", "s1", "bare", 1.0, 0, null));
        assertNull(state.snapshot(0, 0).getRanking());
    }

    @Test
    void recordsKeyedByQueryIdAndARankingRecordWithoutRelevanceIsRefused() {
        ScoreRecord.Builder record = ScoreRecord.newBuilder().setExperimentId("e").setSampleId("q1").setCondition("bare")
                .setModel(new ModelRef("m", null)).setNllMean(1.0).setNllSum(3.0).setAnswerTokens(3)
                .setSegments(new SegmentTokens(1, 0, 10, 0, 5, 3, 0)).setMeta(new ExperimentMeta())
                .setQueryId("query-7").setCandidateId("c3").setRelevance(0.1);
        Score score = Score.of(record.build());
        assertEquals("query-7", score.sampleId());
        assertEquals(new Score.Candidate("c3", 0.1), score.candidate());

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Score.of(record.setRelevance(null).build()));
        assertTrue(e.getMessage().contains("e/q1/c3/bare: candidate without relevance"), e.getMessage());
    }
}
