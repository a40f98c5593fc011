package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dkv.aggregator.offline.OfflineAggregation;
import dkv.avro.StatsSnapshot;
import dkv.platform.testing.EmbeddedKafkaExtension;
import dkv.platform.testing.SharedKafka;
import dkv.platform.config.KafkaSettings;
import dkv.schemas.AvroSerde;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** dkv aggregate / tail / report through the picocli entry point. */
@ExtendWith(EmbeddedKafkaExtension.class)
class AggregatorCommandsTest {

    record Run(int exit, String out, String err) {}

    static Run dkv(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            int exit = Dkv.commandLine().execute(args);
            return new Run(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    static List<String> scoreLines() {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            double base = 2 + (i % 7) * 0.3;
            lines.add(line("e1", "s" + i, "bare", base));
            lines.add(line("e1", "s" + i, "primed", base - 0.2 - (i % 5) * 0.05));
            lines.add(line("e1", "s" + i, "other", base + ((i % 3) - 1) * 0.1));
        }
        return lines;
    }

    static String line(String e, String s, String c, double nll) {
        return "{\"experiment_id\":\"" + e + "\",\"sample_id\":\"" + s + "\",\"condition\":\"" + c + "\",\"nll\":" + nll + "}";
    }

    @Test
    void aggregateWritesTheDocumentedFields(@TempDir Path dir) throws Exception {
        Path scores = Files.write(dir.resolve("scores.jsonl"), scoreLines());
        Path out = dir.resolve("stats.json");
        Run run = dkv("aggregate", "--scores", scores.toString(), "--baseline", "bare", "--oracle", "primed",
                "--correlate", "primed:other", "--out", out.toString());
        assertEquals(0, run.exit(), run.err());
        JsonNode primed = new ObjectMapper().readTree(out.toFile()).get("e1").get("conditions").get("primed");
        for (String field : List.of("n", "mean_delta", "sd_delta", "ci95", "cohen_dz", "win_rate", "tie_rate", "t_p",
                "wilcoxon_p", "bonferroni_p", "holm_p", "cs", "anytime_p", "quintile_mean_delta", "oracle_gap_share")) {
            assertTrue(primed.has(field), field);
        }
        assertEquals(30, primed.get("n").asInt());
        assertEquals(1.0, primed.get("win_rate").asDouble());
        assertEquals(5, primed.get("quintile_mean_delta").size());
        assertTrue(new ObjectMapper().readTree(out.toFile()).get("e1").get("correlations").has("primed|other"));
    }

    @Test
    void aggregateNamesTheBadLine(@TempDir Path dir) throws Exception {
        Path scores = Files.write(dir.resolve("bad.jsonl"), List.of(line("e", "s", "bare", 1), "{\"experiment_id\":\"e\"}"));
        Run run = dkv("aggregate", "--scores", scores.toString(), "--baseline", "bare", "--out", dir.resolve("o.json").toString());
        assertEquals(1, run.exit());
        assertTrue(run.err().contains("bad.jsonl:2: field 'nll'"), run.err());
    }

    static String rankingLine(String query, String candidate, String condition, double nll, Double relevance) {
        return "{\"experiment_id\":\"r1\",\"sample_id\":\"" + query + "\",\"query_id\":\"" + query
                + "\",\"candidate_id\":\"" + candidate + "\",\"condition\":\"" + condition + "\",\"nll\":" + nll
                + (relevance == null ? "" : ",\"relevance\":" + relevance) + "}";
    }

    @Test
    void aggregateRankingWritesTheRankingObject(@TempDir Path dir) throws Exception {
        List<String> lines = new ArrayList<>();
        for (int q = 0; q < 4; q++) {
            for (int c = 0; c < 5; c++) {
                double relevance = c == q ? 1.0 : 0.0;
                lines.add(rankingLine("q" + q, "c" + c, "bare", 2.0 + 0.1 * c, relevance));
                lines.add(rankingLine("q" + q, "c" + c, "oracle", 2.0 + 0.1 * c - relevance, relevance));
            }
        }
        Path scores = Files.write(dir.resolve("ranking.jsonl"), lines);
        Path out = dir.resolve("stats.json");
        Run run = dkv("aggregate", "--scores", scores.toString(), "--baseline", "bare", "--ranking", "--out", out.toString());
        assertEquals(0, run.exit(), run.err());
        JsonNode ranking = new ObjectMapper().readTree(out.toFile()).get("r1").get("ranking");
        assertEquals(4, ranking.get("queries").asInt());
        for (String field : List.of("auc", "auc_queries", "mrr_at_10", "ndcg_at_10")) {
            assertTrue(ranking.get("conditions").get("bare").has(field), field);
        }
        assertEquals(1.0, ranking.get("conditions").get("oracle").get("mrr_at_10").asDouble());
        for (String metric : List.of("auc", "mrr_at_10", "ndcg_at_10")) {
            JsonNode delta = ranking.get("comparisons").get("oracle").get(metric);
            for (String field : List.of("n", "mean_delta", "t_p", "wilcoxon_p", "randomization_p")) {
                assertTrue(delta.has(field), metric + "." + field);
            }
            assertEquals(4, delta.get("n").asInt());
        }

        lines.add(rankingLine("q9", "c0", "bare", 1.0, null));
        Files.write(scores, lines);
        Run bad = dkv("aggregate", "--scores", scores.toString(), "--baseline", "bare", "--ranking", "--out", out.toString());
        assertEquals(1, bad.exit());
        assertTrue(bad.err().contains("ranking.jsonl:41: field 'relevance'"), bad.err());
    }

    @Test
    void tailOnceAndReportReadTheStatsTopic(KafkaSettings settings, @TempDir Path dir) throws Exception {
        Path scores = Files.write(dir.resolve("scores.jsonl"), scoreLines());
        Map<String, StatsSnapshot> snapshots = OfflineAggregation.run(
                dkv.aggregator.offline.ScoreLines.read(scores),
                new OfflineAggregation.Options("bare", null, List.of(), List.of(), 0.05, 0), 1);
        String topic = SharedKafka.newTopic("stats", 1);
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(settings.producer("t", Map.of()),
                new StringSerializer(), new ByteArraySerializer())) {
            producer.send(new ProducerRecord<>(topic, "e1", AvroSerde.of(StatsSnapshot.class).encode(snapshots.get("e1")))).get();
        }
        Run tail = dkv("tail", "--once", "--bootstrap", settings.bootstrapServers(), "--stats-topic", topic);
        assertEquals(0, tail.exit(), tail.err());
        assertTrue(tail.out().contains("experiment e1") && tail.out().contains("primed") && tail.out().contains("helps"),
                tail.out());

        Run missing = dkv("tail", "--once", "--bootstrap", settings.bootstrapServers(), "--stats-topic", topic,
                "--experiment", "nope");
        assertEquals(1, missing.exit());

        Run report = dkv("report", "--experiment", "e1", "--out", dir.resolve("r").toString(),
                "--bootstrap", settings.bootstrapServers(), "--stats-topic", topic);
        assertEquals(0, report.exit(), report.err());
        assertTrue(Files.readString(dir.resolve("r/report.md")).contains("| primed | 30 |"));
    }
}
