package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code dkv embed} end to end against HF transformers: the BERT fixture's texts (ops/reference/bert_fixtures.py)
 * must come back in input order with HF's token counts and embeddings within 1e-5.
 */
class EmbedCommandTest {
    static final Path FIXTURES = Path.of("..", "scorers", "src", "test", "resources", "fixtures");
    static final Path BERT = FIXTURES.resolve("bert");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void embedsEveryLineAsHfTransformersDoes() throws Exception {
        JsonNode expected = JSON.readTree(BERT.resolve("embeddings.json").toFile()).get("texts");
        Path in = dir.resolve("texts.jsonl");
        List<String> lines = new ArrayList<>();
        int n = 0;
        for (JsonNode t : expected) {
            // ids alternate string / integer: each is written back as it was read
            Object id = n++ % 2 == 0 ? t.get("id").asText() : n;
            lines.add(JSON.writeValueAsString(java.util.Map.of("id", id, "text", t.get("text").asText())));
            if (n == 3) lines.add("   ");
        }
        Files.write(in, lines, StandardCharsets.UTF_8);
        Path out = dir.resolve("out").resolve("embeddings.jsonl");

        CliRun run = CliRun.dkv("embed", "--model", BERT.toString(), "--texts", in.toString(), "--out", out.toString());
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.err().contains(expected.size() + " texts") && run.err().contains("libtorch")
                && run.err().contains("wrote " + expected.size() + " embeddings (dimension 32, at most 24 tokens)"), run.err());

        List<String> written = Files.readAllLines(out, StandardCharsets.UTF_8);
        assertEquals(expected.size(), written.size());
        for (int i = 0; i < written.size(); i++) {
            JsonNode got = JSON.readTree(written.get(i));
            JsonNode want = expected.get(i);
            if (i % 2 == 0) assertEquals(want.get("id").asText(), got.get("id").textValue(), "string id kept");
            else assertEquals(i + 1, got.get("id").intValue(), "integer id kept");
            assertEquals(want.get("tokens").asInt(), got.get("tokens").asInt(), want.get("id").asText());
            assertEquals(want.get("embedding").size(), got.get("embedding").size());
            for (int k = 0; k < want.get("embedding").size(); k++) {
                assertEquals(want.get("embedding").get(k).asDouble(), got.get("embedding").get(k).asDouble(), 1e-5,
                        want.get("id").asText() + "[" + k + "]");
            }
        }
    }

    @Test
    void aBadLineIsNamedByFileAndLineBeforeTheModelLoads() throws Exception {
        Path in = dir.resolve("texts.jsonl");
        for (String[] c : new String[][] {
                {"{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": \"b\", \"text\": 3}\n", ":2: field 'text' must be a string"},
                {"{\"id\": \"a\", \"text\": \"x\"}\n\n{\"id\": \"a\", \"text\": \"y\"}\n", ":3: id \"a\" repeats line 1"},
                {"{\"id\": null, \"text\": \"x\"}\n", ":1: field 'id' must be a string or an integer"},
                {"{\"id\": \"a\", \"text\": \"x\"\n", ":1: not JSON"}}) {
            Files.writeString(in, c[0]);
            CliRun run = CliRun.dkv("embed", "--model", BERT.toString(), "--texts", in.toString(), "--out", dir.resolve("o.jsonl").toString());
            assertEquals(2, run.exit(), run.err());
            assertTrue(run.err().startsWith("dkv embed: " + in + c[1]), run.err());
            assertFalse(run.err().contains("libtorch"), "failed before libtorch loads: " + run.err());
            assertEquals(1, run.err().strip().lines().count(), "one line: " + run.err());
        }
    }

    @Test
    void aMissingOrUnsupportedModelGetsOneClearLine() throws Exception {
        Path in = dir.resolve("texts.jsonl");
        Files.writeString(in, "{\"id\": \"a\", \"text\": \"x\"}\n");
        Path out = dir.resolve("o.jsonl");
        CliRun missing = CliRun.dkv("embed", "--model", dir.resolve("nowhere").toString(), "--texts", in.toString(), "--out", out.toString());
        assertEquals(2, missing.exit());
        assertEquals("dkv embed: model directory " + dir.resolve("nowhere") + " does not exist", missing.err().strip());

        CliRun causal = CliRun.dkv("embed", "--model", FIXTURES.resolve("llama").toString(), "--texts", in.toString(), "--out", out.toString());
        assertEquals(2, causal.exit());
        assertTrue(causal.err().strip().endsWith("a llama model is not a sentence encoder (a BERT sentence-transformers snapshot is)"),
                causal.err());
        assertFalse(Files.exists(out), "nothing written");
    }
}
