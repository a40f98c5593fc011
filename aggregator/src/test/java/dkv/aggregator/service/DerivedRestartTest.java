package dkv.aggregator.service;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dkv.aggregator.DerivedScores;
import dkv.aggregator.state.ExperimentPlan;
import dkv.aggregator.state.ExperimentState;
import dkv.aggregator.state.Score;
import dkv.aggregator.web.LiveSnapshots;
import dkv.avro.PairedStats;
import dkv.avro.ScoreRecord;
import dkv.avro.StatsSnapshot;
import dkv.platform.config.KafkaSettings;
import dkv.platform.testing.EmbeddedKafkaExtension;
import dkv.platform.testing.SharedKafka;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Derived conditions are state derived from dkv.scores like everything else: the service computes them as an
 * in-memory replay does, and a restarted aggregator replaying the topic (re-deliveries included, members
 * arriving out of order) publishes identical statistics.
 */
@ExtendWith(EmbeddedKafkaExtension.class)
class DerivedRestartTest {

    @Test
    void aRestartedAggregatorDerivesIdenticalStatistics(KafkaSettings settings) throws Exception {
        String scores = SharedKafka.newTopic("scores", 1);
        String stats = SharedKafka.uniqueName("stats");
        SharedKafka.broker().createTopics(List.of(new NewTopic(stats, 1, (short) 1)
                .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT))));
        String experiment = SharedKafka.uniqueName("exp");
        List<ScoreRecord> records = new ArrayList<>(DerivedScores.records(experiment, 80, 41));
        Collections.shuffle(records, new Random(42)); // a sample's members arrive apart, in any order
        List<ScoreRecord> delivered = new ArrayList<>(records);
        delivered.addAll(records.subList(40, 70)); // re-deliveries
        AggregatorServiceTest.writeTransactionally(settings, scores, delivered, true);

        ExperimentState expected = new ExperimentState(experiment, ExperimentPlan.of(records.getFirst().getMeta(), 0.05));
        delivered.forEach(r -> expected.accept(Score.of(r)));
        StatsSnapshot want = AggregatorServiceTest.normalized(expected.snapshot(0, 0));

        StatsSnapshot first;
        LiveSnapshots live = new LiveSnapshots();
        try (AggregatorService service = AggregatorService.start(settings, scores, stats, AggregatorServiceTest.FAST,
                0.05, live)) {
            first = AggregatorServiceTest.normalized(AggregatorServiceTest.awaitRecords(live, experiment, records.size()));
        }
        assertEquals(want, first, "service = in-memory replay");
        PairedStats routed = first.getConditions().stream().filter(p -> p.getName().equals("routed")).findFirst()
                .orElseThrow();
        assertEquals(80, routed.getN());
        assertEquals(80, first.getDerived().getFirst().getSamples());
        assertEquals(80, first.getRouting().getFirst().getN());

        StatsSnapshot again;
        LiveSnapshots replay = new LiveSnapshots();
        try (AggregatorService restarted = AggregatorService.start(settings, scores, stats, AggregatorServiceTest.FAST,
                0.05, replay)) {
            again = AggregatorServiceTest.normalized(AggregatorServiceTest.awaitRecords(replay, experiment, records.size()));
        }
        assertEquals(first, again, "a restarted aggregator derives identical statistics");
    }
}
