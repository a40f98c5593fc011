package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dkv.avro.ModelRef;
import dkv.avro.ScoreRecord;
import dkv.avro.SegmentTokens;
import dkv.platform.config.KafkaSettings;
import dkv.platform.testing.EmbeddedKafkaExtension;
import dkv.platform.testing.SharedKafka;
import dkv.platform.testing.TopicReader;
import dkv.schemas.AvroSerde;
import dkv.schemas.Topics;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * dkv export against the embedded broker: a topic written the way scorers write it (transactions), plus an
 * aborted transaction that must stay invisible, a value that is not a ScoreRecord and one duplicate key.
 */
@ExtendWith(EmbeddedKafkaExtension.class)
class ExportCommandTest {
    private static final AvroSerde<ScoreRecord> SERDE = AvroSerde.of(ScoreRecord.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private static String topic;
    /** What a read_committed reader must see, in no particular order. */
    private static final List<ScoreRecord> committed = new ArrayList<>();

    static ScoreRecord score(String experiment, String sample, String condition, double nll, int document) {
        return ScoreRecord.newBuilder()
                .setExperimentId(experiment)
                .setSampleId(sample)
                .setCondition(condition)
                .setModel(new ModelRef("fixture-llama", "abc123"))
                .setPlanHash("plan-" + experiment)
                .setNllMean(nll)
                .setNllSum(nll * 3)
                .setAnswerTokens(3)
                .setTokenLogprobs(List.of((float) -nll, (float) -nll / 2, (float) -nll * 1.5f))
                .setSegments(new SegmentTokens(1, condition.equals("bare") ? 0 : 8, document, 0, 12, 3, 0))
                .setDocumentKvMaxAbsDelta(condition.equals("bare") ? null : 1e-7)
                .setDevice("cpu")
                .setDtype("float32")
                .setScoreMs(4.5)
                .build();
    }

    static KafkaProducer<String, byte[]> transactionalProducer(KafkaSettings settings) {
        KafkaProducer<String, byte[]> producer = new KafkaProducer<>(settings.producer("export-test",
                Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, SharedKafka.uniqueName("export-tx"))),
                new StringSerializer(), new ByteArraySerializer());
        producer.initTransactions();
        return producer;
    }

    static void send(KafkaProducer<String, byte[]> producer, String topic, ScoreRecord r) {
        producer.send(new ProducerRecord<>(topic, Topics.scoreKey(r.getExperimentId(), r.getSampleId(), r.getCondition()),
                SERDE.encode(r)));
    }

    @BeforeAll
    static void writeTopic(KafkaSettings settings) {
        topic = SharedKafka.newTopic("export-scores", 3);
        for (int s = 0; s < 3; s++) {
            committed.add(score("e1", "s" + s, "bare", 2.0 + s * 0.25, 40 + s));
            committed.add(score("e1", "s" + s, "primed", 1.5 + s * 0.25, 40 + s));
        }
        committed.add(score("e2", "s0", "bare", 3.125, 17));
        try (KafkaProducer<String, byte[]> producer = transactionalProducer(settings)) {
            producer.beginTransaction();
            committed.forEach(r -> send(producer, topic, r));
            producer.commitTransaction();

            producer.beginTransaction();
            send(producer, topic, score("e1", "s9", "aborted", 9.0, 9));
            send(producer, topic, score("e2", "s9", "bare", 9.0, 9));
            producer.flush();
            producer.abortTransaction();

            // a replayed key (a scorer that was not exactly-once would write this) and bytes that are no ScoreRecord
            ScoreRecord again = score("e1", "s0", "bare", 2.0625, 40);
            producer.beginTransaction();
            send(producer, topic, again);
            producer.send(new ProducerRecord<>(topic, "garbage", "not avro".getBytes(StandardCharsets.UTF_8)));
            producer.commitTransaction();
            committed.add(again);
        }
    }

    static List<String> sorted(List<String> lines) {
        return lines.stream().sorted().toList();
    }

    @Test
    void exportsTheCommittedRecordsAsScoreLines(KafkaSettings settings, @TempDir Path dir) throws Exception {
        Path out = dir.resolve("sub/scores.jsonl");
        CliRun run = CliRun.dkv("export", "--bootstrap", settings.bootstrapServers(), "--topic", topic, "--out", out.toString(),
                "--expect", "8");
        assertEquals(0, run.exit(), run.err());
        List<String> lines = Files.readAllLines(out);
        assertEquals(sorted(committed.stream().map(ScoreJson::line).toList()), sorted(lines));
        assertTrue(lines.stream().noneMatch(l -> l.contains("\"s9\"")), "aborted records must not appear");
        assertEquals(2, TopicReader.readAll(settings.bootstrapServers(), topic, TopicReader.Isolation.READ_UNCOMMITTED,
                        new StringDeserializer(), new ByteArrayDeserializer()).stream()
                .filter(r -> r.key().contains("/s9/")).count(), "the aborted records are in the log, for an uncommitted reader");

        JsonNode e2 = JSON.readTree(lines.stream().filter(l -> l.contains("\"e2\"")).findFirst().orElseThrow());
        assertEquals(3.125, e2.get("nll").asDouble());
        assertEquals(9.375, e2.get("nll_sum").asDouble());
        assertEquals(17, e2.get("segment_tokens").get("document").asInt());
        assertEquals("fixture-llama", e2.get("model").get("id").asText());
        assertTrue(run.err().contains("dkv export: wrote 8 records from " + topic + " (3 partitions) to " + out
                + "; 1 undecodable, 1 duplicate keys"), run.err());
        assertTrue(run.err().contains(": not a ScoreRecord, skipped"), run.err());
    }

    @Test
    void expectFailsWithTheCountItGot(KafkaSettings settings, @TempDir Path dir) {
        CliRun tooFew = CliRun.dkv("export", "--bootstrap", settings.bootstrapServers(), "--topic", topic,
                "--out", dir.resolve("a.jsonl").toString(), "--expect", "9", "--idle-timeout-ms", "2000");
        assertEquals(1, tooFew.exit(), tooFew.err());
        assertTrue(tooFew.err().contains("dkv export: expected 9 records, got 8 (no new record for 2000 ms)"), tooFew.err());

        CliRun tooMany = CliRun.dkv("export", "--bootstrap", settings.bootstrapServers(), "--topic", topic,
                "--out", dir.resolve("b.jsonl").toString(), "--expect", "5");
        assertEquals(1, tooMany.exit(), tooMany.err());
        assertTrue(tooMany.err().contains("dkv export: expected 5 records, got 8 (more than expected)"), tooMany.err());
    }

    @Test
    void experimentFilterAndIdleEnd(KafkaSettings settings, @TempDir Path dir) throws Exception {
        Path out = dir.resolve("e2.jsonl");
        CliRun run = CliRun.dkv("export", "--bootstrap", settings.bootstrapServers(), "--topic", topic, "--experiment", "e2",
                "--out", out.toString(), "--idle-timeout-ms", "2000");
        assertEquals(0, run.exit(), run.err());
        List<String> expected = committed.stream().filter(r -> r.getExperimentId().equals("e2")).map(ScoreJson::line).toList();
        assertEquals(expected, Files.readAllLines(out));
        assertTrue(run.err().contains("wrote 1 records of experiment e2 from " + topic + " (3 partitions)"), run.err());
        assertTrue(run.err().contains("1 undecodable, 0 duplicate keys"), run.err());
    }

    @Test
    void waitsForRecordsCommittedAfterItStarted(KafkaSettings settings, @TempDir Path dir) throws Exception {
        String live = SharedKafka.newTopic("export-live", 2);
        Path out = dir.resolve("live.jsonl");
        CompletableFuture<CliRun> export = CompletableFuture.supplyAsync(() -> CliRun.dkv("export", "--bootstrap",
                settings.bootstrapServers(), "--topic", live, "--out", out.toString(), "--expect", "2", "--timeout-ms", "20000"));
        // the command creates its output once it has noted where the topic ended: what follows comes later
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!Files.exists(out) && !export.isDone() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(Files.exists(out), "the export did not start: " + (export.isDone() ? export.join().err() : "no output after 20 s"));
        List<ScoreRecord> later = List.of(score("e3", "a", "bare", 1.25, 5), score("e3", "b", "bare", 1.75, 6));
        try (KafkaProducer<String, byte[]> producer = transactionalProducer(settings)) {
            producer.beginTransaction();
            later.forEach(r -> send(producer, live, r));
            producer.commitTransaction();
        }
        CliRun run = export.get(30, TimeUnit.SECONDS);
        assertEquals(0, run.exit(), run.err());
        assertEquals(sorted(later.stream().map(ScoreJson::line).toList()), sorted(Files.readAllLines(out)));
    }

    @Test
    void aMissingTopicIsNamed(KafkaSettings settings, @TempDir Path dir) {
        CliRun run = CliRun.dkv("export", "--bootstrap", settings.bootstrapServers(), "--topic", "no-such-topic",
                "--out", dir.resolve("x.jsonl").toString());
        assertEquals(2, run.exit());
        assertTrue(run.err().contains("dkv export: topic no-such-topic does not exist on " + settings.bootstrapServers()),
                run.err());
    }
}
