package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.ConditionSpec;
import dkv.avro.WorkItem;
import dkv.platform.config.KafkaSettings;
import dkv.platform.testing.EmbeddedKafkaExtension;
import dkv.platform.testing.SharedKafka;
import dkv.platform.testing.TopicReader;
import dkv.schemas.AvroSerde;
import dkv.schemas.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** dkv produce as a user runs it: the bundled demo plan and samples into a topic of the embedded broker. */
@ExtendWith(EmbeddedKafkaExtension.class)
class ProduceCommandTest {
    static final Path PLAN = Path.of("..", "demo", "plan.json");
    static final Path SAMPLES = Path.of("..", "demo", "samples.jsonl");
    static final AvroSerde<WorkItem> SERDE = AvroSerde.of(WorkItem.class);

    @Test
    void writesOneWorkItemPerSampleWithEveryConditionOfThePlan(KafkaSettings settings) {
        String topic = SharedKafka.uniqueName("produce-work");
        CliRun run = CliRun.dkv("produce", "--plan", PLAN.toString(), "--dataset", SAMPLES.toString(), "--limit", "6",
                "--bootstrap", settings.bootstrapServers(), "--topic", topic, "--work-partitions", "3");
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.err().contains("dkv produce: wrote 6 work items to " + topic), run.err());

        List<ConsumerRecord<String, byte[]>> records = TopicReader.readAll(settings.bootstrapServers(), topic,
                TopicReader.Isolation.READ_COMMITTED, new StringDeserializer(), new ByteArrayDeserializer());
        assertEquals(6, records.size());
        Set<Integer> partitions = records.stream().map(ConsumerRecord::partition).collect(Collectors.toSet());
        assertTrue(partitions.stream().allMatch(p -> p >= 0 && p < 3), "partitions " + partitions);
        List<String> sampleIds = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : records) {
            WorkItem item = SERDE.decode(r.value());
            sampleIds.add(item.getSample().getId());
            assertEquals("demo", item.getExperimentId());
            assertEquals(Topics.workKey("demo", item.getSample().getId()), r.key());
            assertEquals(8, item.getConditions().size());
            assertEquals(List.of("bare"), item.getConditions().stream().map(ConditionSpec::getName)
                    .filter("bare"::equals).toList(), "the plan's baseline is among the conditions");
            assertTrue(!item.getSample().getPassage().isBlank() && !item.getSample().getAnswer().isBlank());
        }
        assertEquals(6, sampleIds.stream().distinct().count(), "sample ids " + sampleIds);
    }

    @Test
    void dryRunPrintsTheItemsAndNeedsNoBroker() {
        CliRun run = CliRun.dkv("produce", "--plan", PLAN.toString(), "--dataset", SAMPLES.toString(), "--limit", "3",
                "--dry-run", "--bootstrap", "127.0.0.1:1");
        assertEquals(0, run.exit(), run.err());
        List<String> lines = run.out().lines().toList();
        assertEquals(3, lines.size(), run.out());
        lines.forEach(l -> assertTrue(l.startsWith("{\"experiment_id\": \"demo\""), l));
    }

    @Test
    void theModelDirStampsItsOwnIdUnlessThePlanPinsItsModel(@TempDir Path dir) throws Exception {
        Path modelDir = dir.resolve("tiny-llama-copy");
        Files.createDirectories(modelDir);
        CliRun fromDir = CliRun.dkv("produce", "--plan", PLAN.toString(), "--dataset", SAMPLES.toString(), "--limit", "2",
                "--dry-run", "--model-dir", modelDir.toString());
        assertEquals(0, fromDir.exit(), fromDir.err());
        assertTrue(fromDir.err().contains("model tiny-llama-copy (the plan's: dkv-tiny-llama)"), fromDir.err());
        fromDir.out().lines().forEach(l -> assertTrue(l.contains("\"model\": {\"id\": \"tiny-llama-copy\", \"revision\": null}"), l));

        Path pinned = dir.resolve("pinned.json");
        Files.writeString(pinned, Files.readString(PLAN).replace("\"model\": {\"id\": \"dkv-tiny-llama\"}",
                "\"model\": {\"id\": \"dkv-tiny-llama\", \"pinned\": true}"));
        CliRun fromPlan = CliRun.dkv("produce", "--plan", pinned.toString(), "--dataset", SAMPLES.toString(), "--limit", "2",
                "--dry-run", "--model-dir", modelDir.toString());
        assertEquals(0, fromPlan.exit(), fromPlan.err());
        assertTrue(fromPlan.err().contains("model dkv-tiny-llama): 2 samples"), fromPlan.err());
        fromPlan.out().lines().forEach(l -> assertTrue(l.contains("\"model\": {\"id\": \"dkv-tiny-llama\""), l));

        CliRun explicit = CliRun.dkv("produce", "--plan", pinned.toString(), "--dataset", SAMPLES.toString(), "--limit", "2",
                "--dry-run", "--model-dir", modelDir.toString(), "--model-id", "served-as");
        assertEquals(0, explicit.exit(), explicit.err());
        explicit.out().lines().forEach(l -> assertTrue(l.contains("\"model\": {\"id\": \"served-as\""), l));
    }

    @Test
    void aRankingPresetOverWandsDryRunsWithSplitQueries(@TempDir Path dir) throws Exception {
        StringBuilder products = new StringBuilder("product_id\tproduct_name\tproduct_class\tcategory hierarchy\tproduct_description\n");
        StringBuilder labels = new StringBuilder("id\tquery_id\tproduct_id\tlabel\n");
        for (int p = 0; p < 150; p++) {
            products.append(p).append("\tsofa ").append(p).append("\tSofas\tFurniture / Sofas\t\"a sofa, model ").append(p).append("\"\n");
            labels.append(p).append("\t0\t").append(p).append(p % 10 == 0 ? "\tExact\n" : "\tIrrelevant\n");
        }
        Files.writeString(dir.resolve("product.csv"), products);
        Files.writeString(dir.resolve("label.csv"), labels);
        Files.writeString(dir.resolve("query.csv"), "query_id\tquery\tquery_class\n0\tgrey sofa\tSofas\n");

        // the preset's random_tokens surrogate needs a vocabulary: the demo model's tokenizer
        String model = Path.of("..", "demo", "model").toString();
        CliRun run = CliRun.dkv("produce", "--plan", "v3-exp04-wands", "--dataset", dir.toString(), "--dry-run",
                "--model-dir", model);
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.err().contains(": 1 queries in 2 work items; first pass: "), run.err());
        List<String> items = run.out().lines().toList();
        assertEquals(2, items.size(), "150 candidates over the preset's cap of 100: two parts");
        assertTrue(items.getFirst().contains("\"target\": \"QUERY\""), items.getFirst());

        CliRun filtered = CliRun.dkv("produce", "--plan", "v3-exp04-wands", "--dataset", dir.toString(), "--dry-run",
                "--model-dir", model, "--filter", "split=test");
        assertEquals(2, filtered.exit());
        assertTrue(filtered.err().contains("dataset filters apply to ESCI only (got split)"), filtered.err());
        CliRun malformed = CliRun.dkv("produce", "--plan", "v3-exp04-wands", "--dataset", dir.toString(), "--dry-run",
                "--filter", "split");
        assertEquals("dkv produce: --filter expects COLUMN=VALUE, got 'split'", malformed.err().strip());
    }

    @Test
    void aMalformedLineIsNamedAndSkipBadCountsIt(KafkaSettings settings, @TempDir Path dir) throws Exception {
        List<String> good = Files.readAllLines(SAMPLES).subList(0, 3);
        Path dataset = dir.resolve("samples.jsonl");
        Files.write(dataset, List.of(good.get(0), "{\"id\": \"broken\", \"query\": ", good.get(1), good.get(2)));

        CliRun failed = CliRun.dkv("produce", "--plan", PLAN.toString(), "--dataset", dataset.toString(), "--dry-run");
        assertEquals(2, failed.exit(), failed.err());
        assertEquals(1, failed.err().lines().count(), failed.err());
        assertTrue(failed.err().startsWith("dkv produce: " + dataset + ":2"), failed.err());

        String topic = SharedKafka.uniqueName("produce-skip");
        CliRun skipped = CliRun.dkv("produce", "--plan", PLAN.toString(), "--dataset", dataset.toString(), "--skip-bad",
                "--bootstrap", settings.bootstrapServers(), "--topic", topic, "--work-partitions", "1");
        assertEquals(0, skipped.exit(), skipped.err());
        assertTrue(skipped.err().contains("1 malformed (first: " + dataset + ":2: "), skipped.err());
        assertTrue(skipped.err().contains("wrote 3 work items to " + topic), skipped.err());
        assertEquals(3, TopicReader.readAll(settings.bootstrapServers(), topic, TopicReader.Isolation.READ_COMMITTED,
                new StringDeserializer(), new ByteArrayDeserializer()).size());
    }
}
