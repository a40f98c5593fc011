package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code dkv score} end to end against HF transformers: the plan's conditions over the llama fixture's
 * samples must reproduce the NLLs and segment lengths that {@code ops/reference/llama_fixtures.py} computed
 * with HF code for the same texts (the fixture's "expected" entries of the same names).
 */
class ScoreCommandTest {
    static final Path FIXTURE_MODEL = Path.of("..", "scorers", "src", "test", "resources", "fixtures", "llama");
    static final Path SAMPLES = Path.of("src", "test", "resources", "score", "fixture-samples.jsonl");
    static final Path PLAN = Path.of("src", "test", "resources", "score", "fixture-plan.json");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void scoresEverySampleAndConditionAsHfTransformersDoes() throws Exception {
        Path out = dir.resolve("scores.jsonl");
        CliRun run = CliRun.dkv("score", "--model", FIXTURE_MODEL.toString(), "--samples", SAMPLES.toString(), "--plan", PLAN.toString(),
                "--out", out.toString(), "--attention");
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.err().contains("libtorch"), "runtime described at start:\n" + run.err());
        assertTrue(run.err().contains("3/3 samples"), "progress on stderr:\n" + run.err());

        Map<String, JsonNode> expected = new HashMap<>();
        for (JsonNode e : JSON.readTree(FIXTURE_MODEL.resolve("expected.json").toFile()).get("expected")) {
            expected.put(e.get("sample_id").asText() + "/" + e.get("condition").asText(), e);
        }
        List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
        assertEquals(3 * 6, lines.size(), "3 samples x 6 conditions");
        for (String line : lines) {
            JsonNode r = JSON.readTree(line);
            String key = r.get("sample_id").asText() + "/" + r.get("condition").asText();
            JsonNode hf = expected.get(key);
            assertNotNull(hf, "HF reference for " + key);
            assertEquals("fixture", r.get("experiment_id").asText());
            assertEquals(hf.get("nll_mean").asDouble(), r.get("nll").asDouble(), 2e-4, key + " nll");
            assertEquals(hf.get("nll_sum").asDouble(), r.get("nll_sum").asDouble(), 1e-3, key + " nll_sum");
            assertEquals(hf.get("answer_tokens").asInt(), r.get("answer_tokens").asInt(), key);
            for (String segment : List.of("bos", "prefix", "document", "suffix", "query", "answer")) {
                assertEquals(hf.get("segments").get(segment).asInt(), r.get("segment_tokens").get(segment).asInt(), key + " " + segment);
            }
            assertEquals(2, r.get("attention").size(), key + ": one attention entry per layer");
            double answerShares = 0;
            for (var s : r.get("attention").get(0).get("from_answer").properties()) {
                answerShares += s.getValue().asDouble();
            }
            assertEquals(1.0, answerShares, 1e-4, key + ": attention shares of a row sum to 1");
        }
    }

    @Test
    void scoringSamplesTogetherWritesTheSameNllsInTheSameOrderAsOneAtATime() throws Exception {
        Path alone = dir.resolve("alone.jsonl");
        Path together = dir.resolve("together.jsonl");
        CliRun one = CliRun.dkv("score", "--model", FIXTURE_MODEL.toString(), "--samples", SAMPLES.toString(), "--plan", PLAN.toString(),
                "--out", alone.toString(), "--samples-per-call", "1");
        assertEquals(0, one.exit(), one.err());
        CliRun eight = CliRun.dkv("score", "--model", FIXTURE_MODEL.toString(), "--samples", SAMPLES.toString(), "--plan", PLAN.toString(),
                "--out", together.toString(), "--samples-per-call", "8");
        assertEquals(0, eight.exit(), eight.err());
        assertTrue(eight.err().contains("3/3 samples"), "progress on stderr:\n" + eight.err());

        List<String> aloneLines = Files.readAllLines(alone, StandardCharsets.UTF_8);
        List<String> togetherLines = Files.readAllLines(together, StandardCharsets.UTF_8);
        assertEquals(3 * 6, aloneLines.size());
        assertEquals(aloneLines.size(), togetherLines.size());
        for (int i = 0; i < aloneLines.size(); i++) {
            JsonNode a = JSON.readTree(aloneLines.get(i));
            JsonNode t = JSON.readTree(togetherLines.get(i));
            String key = a.get("sample_id").asText() + "/" + a.get("condition").asText();
            assertEquals(key, t.get("sample_id").asText() + "/" + t.get("condition").asText(), "line " + (i + 1) + ": same order");
            assertEquals(a.get("nll").asDouble(), t.get("nll").asDouble(), 1e-5, key + " nll");
            assertEquals(a.get("nll_sum").asDouble(), t.get("nll_sum").asDouble(), 1e-5 * a.get("answer_tokens").asInt(), key + " nll_sum");
        }
    }

    @Test
    void aSamplesPerCallBelowOneIsOneLineNamingIt() {
        CliRun run = CliRun.dkv("score", "--model", FIXTURE_MODEL.toString(), "--samples", SAMPLES.toString(), "--plan", PLAN.toString(),
                "--out", dir.resolve("x.jsonl").toString(), "--samples-per-call", "0");
        assertEquals(2, run.exit());
        assertOneLine(run.err(), "dkv score: --samples-per-call must be >= 1, got 0");
    }

    @Test
    void limitScoresOnlyTheFirstSamples() throws Exception {
        Path out = dir.resolve("limited.jsonl");
        CliRun run = CliRun.dkv("score", "--model", FIXTURE_MODEL.toString(), "--samples", SAMPLES.toString(), "--plan", PLAN.toString(),
                "--out", out.toString(), "--limit", "1");
        assertEquals(0, run.exit(), run.err());
        List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
        assertEquals(6, lines.size());
        assertTrue(lines.stream().allMatch(l -> l.contains("\"sample_id\":\"s1\"")), String.join("\n", lines));
    }

    @Test
    void samplesWithoutAnAnswerAreCountedAndReportedAsSkipped() throws Exception {
        Path samples = dir.resolve("some-empty.jsonl");
        Files.writeString(samples, Files.readString(SAMPLES)
                + "{\"id\": \"e1\", \"query\": \"q\", \"passage\": \"a passage.\", \"answer\": \"\"}\n"
                + "{\"id\": \"e2\", \"query\": \"q\", \"passage\": \"a passage.\", \"answer\": \"  \"}\n");
        Path out = dir.resolve("scores.jsonl");
        CliRun run = CliRun.dkv("score", "--model", FIXTURE_MODEL.toString(), "--samples", samples.toString(), "--plan", PLAN.toString(),
                "--out", out.toString());
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.err().contains(": 3 samples -> " + out + "; first pass: 5 records, 3 samples; skipped 2 without answer,"),
                run.err());
        assertEquals(3 * 6, Files.readAllLines(out, StandardCharsets.UTF_8).size());
    }

    @Test
    void aMissingModelDirectoryIsOneLineNamingIt() {
        CliRun run = CliRun.dkv("score", "--model", dir.resolve("nope").toString(), "--samples", SAMPLES.toString(), "--plan", PLAN.toString(),
                "--out", dir.resolve("x.jsonl").toString());
        assertEquals(2, run.exit());
        assertOneLine(run.err(), "dkv score: model directory " + dir.resolve("nope"));
    }

    @Test
    void aBadSampleLineIsOneLineNamingFileAndLine() throws Exception {
        Path samples = dir.resolve("bad.jsonl");
        Files.writeString(samples, Files.readAllLines(SAMPLES).getFirst() + "\n{\"id\": \"s9\", \"query\": \"q\"\n");
        CliRun run = CliRun.dkv("score", "--model", FIXTURE_MODEL.toString(), "--samples", samples.toString(), "--plan", PLAN.toString(),
                "--out", dir.resolve("x.jsonl").toString());
        assertEquals(2, run.exit());
        assertOneLine(run.err(), "dkv score: ");
        assertTrue(run.err().contains(samples + ":2"), run.err());
    }

    @Test
    void aBadPlanIsOneLineNamingIt() throws Exception {
        Path plan = dir.resolve("plan.json");
        Files.writeString(plan, "{\"baseline\": \"bare\", \"conditions\": [{\"name\": \"bare\", \"placement\": \"SIDEWAYS\"}]}");
        CliRun run = CliRun.dkv("score", "--model", FIXTURE_MODEL.toString(), "--samples", SAMPLES.toString(), "--plan", plan.toString(),
                "--out", dir.resolve("x.jsonl").toString());
        assertEquals(2, run.exit());
        assertOneLine(run.err(), "dkv score: " + plan);
    }

    private static void assertOneLine(String err, String prefix) {
        String message = err.strip();
        assertEquals(1, message.lines().count(), message);
        assertTrue(message.startsWith(prefix), message);
    }
}
