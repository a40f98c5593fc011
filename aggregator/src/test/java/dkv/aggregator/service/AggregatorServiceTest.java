package dkv.aggregator.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.aggregator.SyntheticScores;
import dkv.aggregator.state.ExperimentPlan;
import dkv.aggregator.state.ExperimentState;
import dkv.aggregator.state.Score;
import dkv.aggregator.tail.StatsTable;
import dkv.aggregator.tail.StatsTopicReader;
import dkv.aggregator.web.LiveSnapshots;
import dkv.avro.ScoreRecord;
import dkv.avro.StatsSnapshot;
import dkv.platform.config.KafkaSettings;
import dkv.platform.testing.EmbeddedKafkaExtension;
import dkv.platform.testing.SharedKafka;
import dkv.schemas.AvroSerde;
import dkv.schemas.Topics;
import io.micrometer.core.instrument.Metrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The service on an embedded broker: committed scores only (an aborted transaction's records never count),
 * duplicates dropped, snapshots on dkv.stats equal to the in-memory computation, and a restarted aggregator
 * that replays the topic publishes identical statistics.
 */
@ExtendWith(EmbeddedKafkaExtension.class)
class AggregatorServiceTest {
    static final PublishCadence FAST = new PublishCadence(50, 100);

    @Test
    void replaysCommittedScoresPublishesStatsAndRestartsIdentically(KafkaSettings settings) throws Exception {
        String scores = SharedKafka.newTopic("scores", 1);
        String stats = SharedKafka.uniqueName("stats");
        SharedKafka.broker().createTopics(List.of(new NewTopic(stats, 1, (short) 1)
                .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT))));
        String experiment = SharedKafka.uniqueName("exp");
        List<ScoreRecord> committed = SyntheticScores.records(experiment, 0, 60, 60, 31);
        List<ScoreRecord> aborted = new ArrayList<>();
        for (ScoreRecord r : SyntheticScores.records(experiment, 60, 70, 60, 32)) {
            aborted.add(ScoreRecord.newBuilder(r).setNllMean(r.getNllMean() + 100).build());
        }
        writeTransactionally(settings, scores, committed.subList(0, 150), true);
        writeTransactionally(settings, scores, aborted, false);
        writeTransactionally(settings, scores, committed.subList(150, committed.size()), true);
        writeTransactionally(settings, scores, committed.subList(10, 30), true); // re-deliveries

        ExperimentState expected = new ExperimentState(experiment,
                ExperimentPlan.of(committed.getFirst().getMeta(), 0.05));
        committed.forEach(r -> expected.accept(Score.of(r)));
        StatsSnapshot want = expected.snapshot(0, 0);

        LiveSnapshots live = new LiveSnapshots();
        StatsSnapshot first;
        try (AggregatorService service = AggregatorService.start(settings, scores, stats, FAST, 0.05, live)) {
            first = awaitRecords(live, experiment, committed.size());
            waitUntil(service::caughtUp, "caught up");
            // 300 committed + 20 re-delivered; the aborted transaction's 50 are never read
            assertEquals(320.0, Metrics.globalRegistry.get("dkv.aggregator.records.consumed").functionCounter().count());
        }
        assertEquals(normalized(want), normalized(first), "service = in-memory replay of the committed records");
        assertEquals(60, first.getSamples());
        assertTrue(first.getFinal$());

        StatsSnapshot fromTopic;
        try (StatsTopicReader reader = new StatsTopicReader(settings, stats, "test-tail")) {
            assertTrue(reader.readToEnd(Duration.ofSeconds(30)));
            fromTopic = reader.latest().get(experiment);
        }
        assertEquals(normalized(first), normalized(fromTopic), "latest snapshot on the stats topic");
        String table = StatsTable.render(fromTopic, 0.05);
        assertTrue(table.contains("oracle") && table.contains("FINAL"), table);

        LiveSnapshots again = new LiveSnapshots();
        try (AggregatorService restarted = AggregatorService.start(settings, scores, stats, FAST, 0.05, again)) {
            StatsSnapshot replayed = awaitRecords(again, experiment, committed.size());
            assertEquals(normalized(first), normalized(replayed), "a restarted aggregator publishes identical statistics");
        }
    }

    /** Wall-clock fields differ between runs by nature; everything else must not. */
    static StatsSnapshot normalized(StatsSnapshot s) {
        return StatsSnapshot.newBuilder(s).setProducedAt(0).setRecordsPerSecond(0).setEtaSeconds(null).build();
    }

    static StatsSnapshot awaitRecords(LiveSnapshots live, String experiment, long records) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            StatsSnapshot s = live.latest().get(experiment);
            if (s != null && s.getRecords() >= records) {
                return s;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no snapshot of " + experiment + " with " + records + " records; latest "
                + live.latest().get(experiment));
    }

    static void waitUntil(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(50);
        }
    }

    static void writeTransactionally(KafkaSettings settings, String topic, List<ScoreRecord> records, boolean commit) {
        AvroSerde<ScoreRecord> serde = AvroSerde.of(ScoreRecord.class);
        Map<String, Object> config = settings.producer("test-scores", Map.of(
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, SharedKafka.uniqueName("tx")));
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(config, new StringSerializer(),
                new ByteArraySerializer())) {
            producer.initTransactions();
            producer.beginTransaction();
            for (ScoreRecord r : records) {
                producer.send(new ProducerRecord<>(topic,
                        Topics.scoreKey(r.getExperimentId(), r.getSampleId(), r.getCondition()), serde.encode(r)));
            }
            if (commit) {
                producer.commitTransaction();
            } else {
                producer.flush();
                producer.abortTransaction();
            }
        }
    }
}
