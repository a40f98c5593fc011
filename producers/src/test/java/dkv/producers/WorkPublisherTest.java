package dkv.producers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.WorkItem;
import dkv.platform.testing.SharedKafka;
import dkv.platform.testing.TopicReader;
import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.DatasetFormat;
import dkv.producers.dataset.ReaderOptions;
import dkv.producers.plan.Plan;
import dkv.producers.surrogate.GeneratorResources;
import dkv.schemas.AvroSerde;
import dkv.schemas.Topics;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;

/** produce -> consume through the embedded broker: what a scorer reads is what the plan expanded. */
class WorkPublisherTest {
    static Path resource(String name) {
        try {
            return Path.of(WorkPublisherTest.class.getResource(name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void producedWorkIsConsumedIntactAndRerunsWriteTheSameKeys() {
        Dataset dataset = new Dataset(resource("/datasets/msmarco_columns.json"), DatasetFormat.MSMARCO_COLUMNS, ReaderOptions.defaults());
        Plan plan = Plan.parse("""
                {"experiment_id": "roundtrip", "model": {"id": "tiny", "revision": "r1"},
                 "conditions": [{"name": "bare"},
                   {"name": "kw", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "keywords", "k": 4},
                   {"name": "kw_shuffled", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "shuffled", "of": "kw"},
                   {"name": "irr", "placement": "SUFFIX", "surrogate_kind": "irrelevant"}],
                 "contrasts": [{"name": "order", "a": "kw", "b": "kw_shuffled"}]}""", "t", "t", Path.of("."));
        String topic = SharedKafka.uniqueName("work");
        WorkPublisher publisher = new WorkPublisher(SharedKafka.settings(), topic, 3, 2);
        assertTrue(publisher.ensureTopics((short) 1).contains(topic));
        assertEquals(List.of(), publisher.ensureTopics((short) 1), "second call finds every topic");

        WorkPlan work = WorkPlan.prepare(plan, dataset, GeneratorResources.none(), Optional.empty(), Optional.empty(), System::currentTimeMillis);
        Progress progress = new Progress(work.planned(), Duration.ofHours(1), System::nanoTime, line -> {});
        assertEquals(3, publisher.publish(work, progress));
        assertEquals(3, progress.done());
        Map<String, WorkItem> expected = work.items().collectMap(KeyedWork::key, KeyedWork::item).block();

        AvroSerde<WorkItem> serde = AvroSerde.of(WorkItem.class);
        List<ConsumerRecord<String, WorkItem>> first = TopicReader.readUntil(SharedKafka.bootstrapServers(), topic,
                TopicReader.Isolation.READ_COMMITTED, new StringDeserializer(), serde, r -> r.size() >= 3, Duration.ofSeconds(20));
        assertEquals(3, first.size());
        for (ConsumerRecord<String, WorkItem> record : first) {
            WorkItem item = record.value();
            assertEquals("roundtrip/" + item.getSample().getId(), record.key());
            assertEquals(plan.hash(), item.getPlanHash());
            assertEquals("r1", item.getModel().getRevision());
            assertEquals(4, item.getConditions().size());
            assertEquals(3, item.getMeta().getPlannedSamples());
            assertEquals("order", item.getMeta().getContrasts().getFirst().getName());
            assertEquals(expected.get(record.key()).getConditions(), item.getConditions());
            assertEquals(expected.get(record.key()).getSample(), item.getSample());
        }

        // the same plan again: the same keys with the same content (only produced_at differs)
        publisher.publish(WorkPlan.prepare(plan, dataset, GeneratorResources.none(), Optional.empty(), Optional.empty(),
                System::currentTimeMillis), new Progress(3, Duration.ofHours(1), System::nanoTime, line -> {}));
        List<ConsumerRecord<String, WorkItem>> both = TopicReader.readUntil(SharedKafka.bootstrapServers(), topic,
                TopicReader.Isolation.READ_COMMITTED, new StringDeserializer(), serde, r -> r.size() >= 6, Duration.ofSeconds(20));
        assertEquals(6, both.size());
        Map<String, List<WorkItem>> byKey = both.stream().collect(Collectors.groupingBy(ConsumerRecord::key,
                Collectors.mapping(ConsumerRecord::value, Collectors.toList())));
        assertEquals(expected.keySet(), byKey.keySet());
        for (List<WorkItem> copies : byKey.values()) {
            assertEquals(2, copies.size());
            copies.forEach(c -> c.setProducedAt(0L));
            assertEquals(copies.get(0), copies.get(1));
        }
    }

    @Test
    void aRenamedWorkTopicTakesTheRequestedPartitionsAndTheStandardTopicsKeepTheDefault() {
        Map<String, Integer> renamed = partitions(new WorkPublisher(SharedKafka.settings(), "side-work", 1, 2));
        assertEquals(1, renamed.get("side-work"));
        assertEquals(Topics.DEFAULT_WORK_PARTITIONS, renamed.get(Topics.WORK));
        assertEquals(Topics.DEFAULT_WORK_PARTITIONS, renamed.get(Topics.SCORES));
        Map<String, Integer> standard = partitions(new WorkPublisher(SharedKafka.settings(), Topics.WORK, 6, 2));
        assertEquals(6, standard.get(Topics.WORK));
        assertEquals(6, standard.get(Topics.SCORES));
        assertEquals(6, standard.size());
    }

    private static Map<String, Integer> partitions(WorkPublisher publisher) {
        return publisher.topicsToEnsure((short) 1).stream().collect(Collectors.toMap(NewTopic::name, NewTopic::numPartitions));
    }
}
