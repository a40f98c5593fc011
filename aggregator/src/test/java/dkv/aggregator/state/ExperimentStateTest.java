package dkv.aggregator.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.aggregator.SyntheticScores;
import dkv.avro.AttentionSummary;
import dkv.avro.PairedStats;
import dkv.avro.ScoreRecord;
import dkv.avro.StatsSnapshot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ExperimentStateTest {

    static ExperimentState replay(List<ScoreRecord> records) {
        ExperimentState state = new ExperimentState("e", ExperimentPlan.of(records.getFirst().getMeta(), 0.05));
        records.forEach(r -> state.accept(Score.of(r)));
        return state;
    }

    @Test
    void duplicatesAreCountedOnceAndConflictsReported() {
        List<ScoreRecord> records = SyntheticScores.records("e", 0, 20, 20, 1);
        ExperimentState state = replay(records);
        assertFalse(state.accept(Score.of(records.get(3))));
        ScoreRecord changed = ScoreRecord.newBuilder(records.get(4)).setNllMean(99).build();
        assertFalse(state.accept(Score.of(changed)));
        assertEquals(100, state.records());
        assertEquals(2, state.duplicates());
        assertEquals(1, state.conflictingDuplicates());
        StatsSnapshot s = state.snapshot(0, 0);
        assertEquals(20, s.getSamples());
        assertEquals(20, s.getCompleteSamples());
        assertTrue(s.getFinal$());
    }

    @Test
    void fixedNStatisticsDoNotDependOnArrivalOrder() {
        List<ScoreRecord> records = SyntheticScores.records("e", 0, 200, 200, 2);
        List<ScoreRecord> shuffled = new ArrayList<>(records);
        Collections.shuffle(shuffled, new Random(3));
        StatsSnapshot a = replay(records).snapshot(0, 0);
        StatsSnapshot b = replay(shuffled).snapshot(0, 0);
        for (int i = 0; i < a.getConditions().size(); i++) {
            PairedStats x = a.getConditions().get(i);
            PairedStats y = b.getConditions().stream().filter(p -> p.getName().equals(x.getName())).findFirst().orElseThrow();
            assertEquals(x.getMeanDelta(), y.getMeanDelta(), 0.0, x.getName());
            assertEquals(x.getTP(), y.getTP(), 0.0);
            assertEquals(x.getWilcoxonP(), y.getWilcoxonP(), 0.0);
            assertEquals(x.getQuintileMeanDelta(), y.getQuintileMeanDelta());
            assertEquals(x.getHolmP(), y.getHolmP(), 0.0);
        }
        // and a replay in the same order is identical, anytime values included
        assertEquals(a, replay(records).snapshot(0, 0));
    }

    @Test
    void snapshotsTakenAlongTheWayDoNotChangeTheResult() {
        List<ScoreRecord> records = new ArrayList<>(SyntheticScores.records("e", 0, 150, 150, 6));
        Collections.shuffle(records, new Random(7));
        ExperimentState incremental = new ExperimentState("e", ExperimentPlan.of(records.getFirst().getMeta(), 0.05));
        for (int i = 0; i < records.size(); i++) {
            incremental.accept(Score.of(records.get(i)));
            if (i % 97 == 0) {
                incremental.snapshot(0, 0);
            }
        }
        assertEquals(replay(records).snapshot(0, 0), incremental.snapshot(0, 0));
    }

    @Test
    void oracleShareContrastAndCorrelationAreReported() {
        StatsSnapshot s = replay(SyntheticScores.records("e", 0, 300, 0, 4)).snapshot(0, 0);
        PairedStats oracle = s.getConditions().stream().filter(p -> p.getName().equals("oracle")).findFirst().orElseThrow();
        PairedStats generated = s.getConditions().stream().filter(p -> p.getName().equals("generated")).findFirst().orElseThrow();
        assertEquals(1.0, oracle.getOracleGapShare(), 1e-12);
        assertEquals(generated.getMeanDelta() / oracle.getMeanDelta(), generated.getOracleGapShare(), 1e-12);
        assertEquals(1, s.getContrasts().size());
        PairedStats contrast = s.getContrasts().getFirst();
        assertEquals("shuffled", contrast.getReference());
        assertEquals(300, contrast.getN());
        assertEquals(1, s.getCorrelations().size());
        assertTrue(s.getCorrelations().getFirst().getPearson() > 0.8);
        assertFalse(s.getFinal$());
        assertNull(s.getEtaSeconds());
    }

    @Test
    void oracleShareIsUndefinedWhileTheOracleIsIndistinguishableFromZero() {
        ExperimentState state = new ExperimentState("e", new ExperimentPlan("bare", "oracle", List.of(), List.of(), 0, 3, 0.05, 1000));
        for (int i = 0; i < 30; i++) {
            double bare = 2.0 + 0.01 * i;
            // the oracle helps and hurts by turns: mean δ 0.0067, its CI about ±0.4 around it
            state.accept(new Score("e", "s" + i, "bare", bare, 0, null));
            state.accept(new Score("e", "s" + i, "oracle", bare - (i % 2 == 0 ? 0.5 : -0.5) - (i % 3 == 0 ? 0.1 : 0), 0, null));
            state.accept(new Score("e", "s" + i, "generated", bare - 0.3, 0, null));
        }
        StatsSnapshot s = state.snapshot(0, 0);
        PairedStats oracle = s.getConditions().stream().filter(p -> p.getName().equals("oracle")).findFirst().orElseThrow();
        assertTrue(oracle.getCi95Lo() < 0 && oracle.getCi95Hi() > 0, oracle.getCi95Lo() + ".." + oracle.getCi95Hi());
        assertTrue(s.getConditions().stream().allMatch(p -> p.getOracleGapShare() == null), s.getConditions().toString());
        // once the oracle clearly helps, the share is back
        for (int i = 30; i < 60; i++) {
            state.accept(new Score("e", "s" + i, "bare", 2.0, 0, null));
            state.accept(new Score("e", "s" + i, "oracle", 1.4 + 0.01 * (i % 5), 0, null));
            state.accept(new Score("e", "s" + i, "generated", 1.7, 0, null));
        }
        s = state.snapshot(0, 0);
        oracle = s.getConditions().stream().filter(p -> p.getName().equals("oracle")).findFirst().orElseThrow();
        PairedStats generated = s.getConditions().stream().filter(p -> p.getName().equals("generated")).findFirst().orElseThrow();
        assertTrue(oracle.getCi95Lo() > 0, "oracle CI " + oracle.getCi95Lo());
        assertEquals(generated.getMeanDelta() / oracle.getMeanDelta(), generated.getOracleGapShare(), 1e-12);
    }

    @Test
    void attentionMeansAndSuffixQueryChangeMatchAPlainAverage() {
        StatsSnapshot s = replay(SyntheticScores.records("e", 0, 10, 10, 5)).snapshot(0, 0);
        AttentionSummary bosBare = find(s.getAttention(), "bare", "answer", "bos");
        for (int layer = 0; layer < SyntheticScores.LAYERS; layer++) {
            assertEquals((float) (0.3 + 0.05 * layer), bosBare.getPerLayer().get(layer), 1e-6);
        }
        AttentionSummary change = find(s.getAttention(), "suffix", "answer", "query_change_vs_baseline");
        for (double v : change.getPerLayer()) {
            assertEquals((float) 0.15 - (float) 0.25, v, 1e-6);
        }
        assertTrue(s.getAttention().stream().noneMatch(a -> a.getSegment().equals("query_change_vs_baseline")
                && !a.getCondition().equals("suffix")));
    }

    static AttentionSummary find(List<AttentionSummary> all, String condition, String source, String segment) {
        return all.stream().filter(a -> a.getCondition().equals(condition) && a.getSource().equals(source)
                && a.getSegment().equals(segment)).findFirst().orElseThrow();
    }
}
