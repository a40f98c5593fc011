package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code dkv generate} end to end on the tiny Llama fixture against HF {@code generate}
 * (ops/reference/generation_fixtures.py): greedy new tokens per line in input order, the chat form through a real-shaped
 * template, seeded sampling, and bad items written with their reason while the run goes on.
 */
class GenerateCommandTest {
    static final Path FIXTURES = Path.of("..", "scorers", "src", "test", "resources", "fixtures");
    static final Path LLAMA = FIXTURES.resolve("llama");
    private static final ObjectMapper JSON = new ObjectMapper();
    static final JsonNode EXPECTED = read(FIXTURES.resolve("generation").resolve("expected.json")).get("models").get("llama");

    @TempDir
    Path dir;

    static JsonNode read(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    Path prompts(List<Map<String, Object>> lines) throws Exception {
        Path in = dir.resolve("prompts.jsonl");
        List<String> text = new ArrayList<>();
        for (Map<String, Object> l : lines) text.add(JSON.writeValueAsString(l));
        Files.write(in, text, StandardCharsets.UTF_8);
        return in;
    }

    List<JsonNode> output(Path out) throws Exception {
        List<JsonNode> lines = new ArrayList<>();
        for (String l : Files.readAllLines(out, StandardCharsets.UTF_8)) lines.add(JSON.readTree(l));
        return lines;
    }

    static List<Integer> ints(JsonNode array) {
        List<Integer> out = new ArrayList<>();
        array.forEach(n -> out.add(n.intValue()));
        return out;
    }

    @Test
    void greedyLinesEqualHfGenerateAndBadItemsCarryTheirReason() throws Exception {
        JsonNode prompts = EXPECTED.get("prompts");
        List<Map<String, Object>> lines = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) lines.add(Map.of("id", i % 2 == 0 ? "p" + i : i, "prompt", prompts.get(i).asText()));
        // longer than the fixture's context of 256 positions
        lines.add(2, Map.of("id", "long", "prompt", (prompts.get(1).asText() + " ").repeat(5)));
        Path out = dir.resolve("out").resolve("generations.jsonl");
        CliRun run = CliRun.dkv("generate", "--model", LLAMA.toString(), "--prompts", prompts(lines).toString(), "--out", out.toString(),
                "--max-new-tokens", EXPECTED.get("max_new_tokens").asText(), "--batch", "3");
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.err().contains("5 prompts") && run.err().contains("greedy") && run.err().contains("libtorch")
                && run.err().contains("wrote 5 generations (1 with errors, 48 new tokens)"), run.err());
        List<JsonNode> got = output(out);
        assertEquals(5, got.size());
        int expected = 0;
        for (int i = 0; i < got.size(); i++) {
            JsonNode line = got.get(i);
            if (i == 2) {
                assertEquals("long", line.get("id").asText());
                assertTrue(line.get("error").asText().matches("prompt of \\d+ tokens leaves no room in the model's context of 256 \\(max_position_embeddings\\)"),
                        line.toString());
                assertEquals(0, line.get("new_tokens").size());
                continue;
            }
            assertEquals(lines.get(i).get("id").toString(), line.get("id").asText(), "ids kept in input order");
            assertEquals(ints(EXPECTED.get("alone").get(expected)), ints(line.get("new_tokens")), "prompt " + expected);
            assertFalse(line.has("error"), line.toString());
            assertFalse(line.get("text").asText().isEmpty());
            expected++;
        }
        assertTrue(got.get(1).get("id").isIntegralNumber(), "an integer id stays an integer");

        // a stop string at the very start of the first text leaves nothing: an empty generation, reported and counted
        String first = got.get(0).get("text").asText();
        Path stopped = dir.resolve("stopped.jsonl");
        CliRun stop = CliRun.dkv("generate", "--model", LLAMA.toString(), "--prompts", prompts(lines.subList(0, 2)).toString(),
                "--out", stopped.toString(), "--max-new-tokens", "12", "--stop", first.substring(0, 1));
        assertEquals(0, stop.exit(), stop.err());
        JsonNode empty = output(stopped).getFirst();
        assertTrue(empty.get("error").asText().startsWith("empty generation: 1 new tokens, ended by STOP_STRING"), empty.toString());
        assertTrue(stop.err().contains("(1 with errors") || stop.err().contains("(2 with errors"), stop.err());
    }

    @Test
    void chatPromptsGoThroughTheSnapshotsTemplate() throws Exception {
        JsonNode chat = EXPECTED.get("chat");
        JsonNode templates = read(FIXTURES.resolve("generation").resolve("chat.json")).get("templates");
        String template = null;
        for (JsonNode t : templates) if (t.get("name").asText().equals(chat.get("template").asText())) template = t.get("template").asText();
        // the llama fixture with a tokenizer_config.json carrying the Llama-2 template
        Path model = dir.resolve("llama-chat");
        Files.createDirectories(model);
        try (var files = Files.list(LLAMA)) {
            for (Path f : files.toList()) Files.copy(f, model.resolve(f.getFileName()));
        }
        Files.writeString(model.resolve("tokenizer_config.json"), JSON.writeValueAsString(Map.of("bos_token", "<s>", "eos_token", "</s>",
                "chat_template", template)));
        List<Map<String, Object>> lines = new ArrayList<>();
        for (int i = 0; i < chat.get("prompts").size(); i++) lines.add(Map.of("id", "c" + i, "prompt", chat.get("prompts").get(i).asText()));
        Path out = dir.resolve("chat.jsonl");
        CliRun run = CliRun.dkv("generate", "--model", model.toString(), "--prompts", prompts(lines).toString(), "--out", out.toString(),
                "--max-new-tokens", EXPECTED.get("max_new_tokens").asText(), "--chat");
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.err().contains("chat template " + model.resolve("tokenizer_config.json")), run.err());
        List<JsonNode> got = output(out);
        for (int i = 0; i < got.size(); i++) assertEquals(ints(chat.get("alone").get(i)), ints(got.get(i).get("new_tokens")), "chat " + i);

        CliRun noTemplate = CliRun.dkv("generate", "--model", LLAMA.toString(), "--prompts", prompts(lines).toString(), "--out",
                out.toString(), "--chat");
        assertEquals(2, noTemplate.exit());
        assertEquals("dkv generate: " + LLAMA.resolve("tokenizer_config.json")
                + ": no chat_template (and no chat_template.jinja): not a chat model", noTemplate.err().strip());
    }

    @Test
    void aSeedGivesTheSameSamplesAndAnotherSeedOthers() throws Exception {
        JsonNode prompts = EXPECTED.get("prompts");
        List<Map<String, Object>> lines = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) lines.add(Map.of("id", "p" + i, "prompt", prompts.get(i).asText()));
        Path in = prompts(lines);
        List<List<JsonNode>> runs = new ArrayList<>();
        for (String[] args : new String[][] {{"--seed", "5", "--batch", "4"}, {"--seed", "5", "--batch", "1"}, {"--seed", "6", "--batch", "4"}}) {
            Path out = dir.resolve("s" + runs.size() + ".jsonl");
            List<String> cmd = new ArrayList<>(List.of("generate", "--model", LLAMA.toString(), "--prompts", in.toString(), "--out",
                    out.toString(), "--max-new-tokens", "8", "--temperature", "0.8", "--top-p", "0.95", "--top-k", "50"));
            cmd.addAll(List.of(args));
            CliRun run = CliRun.dkv(cmd.toArray(String[]::new));
            assertEquals(0, run.exit(), run.err());
            assertTrue(run.err().contains("sampling: temperature 0.8, top-p 0.95, top-k 50, seed " + args[1]), run.err());
            runs.add(output(out));
        }
        int differ = 0;
        for (int i = 0; i < prompts.size(); i++) {
            assertEquals(runs.get(0).get(i).get("new_tokens"), runs.get(1).get(i).get("new_tokens"), "same seed, other batch: " + i);
            if (!runs.get(0).get(i).get("new_tokens").equals(runs.get(2).get(i).get("new_tokens"))) differ++;
        }
        assertTrue(differ >= 3, "another seed, other samples: " + differ);
        assertNotEquals(GenerateCommand.itemSeed(5, "a"), GenerateCommand.itemSeed(5, "b"));
    }

    @Test
    void badOptionsAndLinesFailInOneLineBeforeTheModelLoads() throws Exception {
        Path in = dir.resolve("p.jsonl");
        Files.writeString(in, "{\"id\": \"a\", \"prompt\": \"x\"}\n{\"id\": \"b\", \"text\": \"y\"}\n");
        for (String[] c : new String[][] {
                {":2: field 'prompt' must be a string"},
                {"top-p must lie in (0, 1], got 1.5", "--top-p", "1.5"},
                {"temperature must be ≥ 0, got -1.0", "--temperature", "-1"}}) {
            List<String> cmd = new ArrayList<>(List.of("generate", "--model", LLAMA.toString(), "--prompts", in.toString(), "--out",
                    dir.resolve("o.jsonl").toString()));
            for (int k = 1; k < c.length; k++) cmd.add(c[k]);
            CliRun run = CliRun.dkv(cmd.toArray(String[]::new));
            assertEquals(2, run.exit(), run.err());
            assertTrue(run.err().startsWith("dkv generate: ") && run.err().contains(c[0]), run.err());
            assertFalse(run.err().contains("libtorch"), "failed before libtorch loads: " + run.err());
            assertEquals(1, run.err().strip().lines().count(), "one line: " + run.err());
        }
    }

    @Test
    void eachCallToTheGeneratorHoldsWholeBatches() {
        assertEquals(256, GenerateCommand.promptsPerCall(16));
        assertEquals(256, GenerateCommand.promptsPerCall(32));
        assertEquals(320, GenerateCommand.promptsPerCall(80));
        assertEquals(320, GenerateCommand.promptsPerCall(160));
        assertEquals(300, GenerateCommand.promptsPerCall(300));
        assertEquals(258, GenerateCommand.promptsPerCall(3));
    }
}
