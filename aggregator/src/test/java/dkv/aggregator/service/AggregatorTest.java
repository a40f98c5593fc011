package dkv.aggregator.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.aggregator.SyntheticScores;
import dkv.avro.ScoreRecord;
import dkv.avro.StatsSnapshot;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class AggregatorTest {

    @Test
    void publishesEveryNRecordsOrTMillisWhicheverComesFirst() {
        AtomicLong clock = new AtomicLong(1_000);
        Aggregator aggregator = new Aggregator(new PublishCadence(10, 500), 0.05, clock::get);
        List<ScoreRecord> records = SyntheticScores.records("e", 0, 10, 10, 1);
        int published = 0;
        for (int i = 0; i < 9; i++) {
            published += aggregator.accept(records.get(i)).size();
        }
        assertEquals(0, published, "9 records, no time passed");
        List<StatsSnapshot> tenth = aggregator.accept(records.get(9));
        assertEquals(1, tenth.size(), "10th record triggers");
        assertEquals(10, tenth.getFirst().getRecords());

        aggregator.accept(records.get(10));
        assertEquals(List.of(), aggregator.publishIfDue(), "not yet due by time");
        clock.addAndGet(500);
        List<StatsSnapshot> byTime = aggregator.publishIfDue();
        assertEquals(11, byTime.getFirst().getRecords());
        assertEquals(List.of(), aggregator.publishIfDue(), "nothing changed since");
        assertEquals(byTime.getFirst(), aggregator.latest().get("e"));
    }

    @Test
    void ratesAndEtaComeFromTheClock() {
        AtomicLong clock = new AtomicLong(0);
        Aggregator aggregator = new Aggregator(new PublishCadence(100, 1_000_000), 0.05, clock::get);
        List<ScoreRecord> records = SyntheticScores.records("e", 0, 40, 40, 2); // 200 planned
        for (int i = 0; i < 100; i++) {
            aggregator.accept(records.get(i));
        }
        clock.addAndGet(2_000);
        StatsSnapshot s = null;
        for (int i = 100; i < 200; i++) {
            List<StatsSnapshot> out = aggregator.accept(records.get(i));
            if (!out.isEmpty()) {
                s = out.getFirst();
            }
        }
        assertEquals(50.0, s.getRecordsPerSecond(), 1e-9, "100 records in 2 s");
        assertEquals(0.0, s.getEtaSeconds(), 1e-9);
        assertTrue(s.getFinal$());
    }

    @Test
    void recordsWithoutMetaAreSkippedAndNaNIsRefused() {
        Aggregator aggregator = new Aggregator(PublishCadence.DEFAULT, 0.05, () -> 0);
        ScoreRecord noMeta = ScoreRecord.newBuilder(SyntheticScores.records("x", 0, 1, 1, 3).getFirst()).setMeta(null).build();
        assertEquals(List.of(), aggregator.accept(noMeta));
        assertEquals(1, aggregator.recordsWithoutPlan());
        ScoreRecord nan = ScoreRecord.newBuilder(SyntheticScores.records("y", 0, 1, 1, 3).getFirst()).setNllMean(Double.NaN).build();
        assertThrows(IllegalArgumentException.class, () -> aggregator.accept(nan));
    }

    @Test
    void recordsOfAnotherPlanUnderTheSameExperimentAreRefusedCountedAndReportedOnce() {
        Aggregator aggregator = new Aggregator(PublishCadence.DEFAULT, 0.05, () -> 0);
        List<ScoreRecord> planA = withPlan(SyntheticScores.records("e", 0, 10, 20, 3), "plan-a");
        List<ScoreRecord> planB = withPlan(SyntheticScores.records("e", 10, 20, 20, 4), "plan-b");
        List<ScoreRecord> otherExperiment = withPlan(SyntheticScores.records("f", 0, 5, 5, 5), "plan-b");
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            planA.forEach(aggregator::accept);
            planB.forEach(aggregator::accept);
            aggregator.accept(planA.getFirst()); // the started plan still gets through (a duplicate here)
            otherExperiment.forEach(aggregator::accept);
        } finally {
            System.setErr(original);
        }
        Map<String, StatsSnapshot> latest = new java.util.HashMap<>();
        aggregator.publish().forEach(s -> latest.put(s.getExperimentId(), s));
        assertEquals(planA.size(), latest.get("e").getRecords(), "only plan-a's records in experiment e");
        assertEquals(otherExperiment.size(), latest.get("f").getRecords(), "plan-b is another experiment's own plan");
        assertEquals(planB.size(), aggregator.recordsOfOtherPlans());
        List<String> warnings = captured.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains("refused")).toList();
        assertEquals(1, warnings.size(), String.join("\n", warnings));
        assertTrue(warnings.getFirst().contains("experiment e: score records of plan plan-b refused: the experiment started"
                + " with plan plan-a; a changed plan needs its own experiment_id"), warnings.getFirst());
    }

    private static List<ScoreRecord> withPlan(List<ScoreRecord> records, String planHash) {
        return records.stream().map(r -> ScoreRecord.newBuilder(r).setPlanHash(planHash).build()).toList();
    }
}
