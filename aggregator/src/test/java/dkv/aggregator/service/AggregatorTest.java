package dkv.aggregator.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.aggregator.SyntheticScores;
import dkv.avro.ScoreRecord;
import dkv.avro.StatsSnapshot;
import java.util.List;
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
}
