package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

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
 * {@code dkv score} on an encoder-decoder end to end: a v3-style plan (answer alone in the decoder, co-encoded oracle
 * and static surrogates, visible and masked) over the T5Gemma 2 fixture reproduces the NLLs and both streams' segment
 * lengths that HF computed ({@code ops/reference/t5gemma2_fixtures.py}), and writes the decoder's self and cross
 * attention shares, which add up to one per layer.
 */
class T5Gemma2ScoreCommandTest {
    static final Path FIXTURE_MODEL = Path.of("..", "scorers", "src", "test", "resources", "fixtures", "t5gemma2");
    static final Path PLAN = Path.of("src", "test", "resources", "score", "t5gemma2-plan.json");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void scoresAV3PlanAsHfTransformersDoes() throws Exception {
        Path out = dir.resolve("scores.jsonl");
        CliRun run = CliRun.dkv("score", "--model", FIXTURE_MODEL.toString(), "--samples", ScoreCommandTest.SAMPLES.toString(),
                "--plan", PLAN.toString(), "--out", out.toString(), "--attention");
        assertEquals(0, run.exit(), run.err());
        Map<String, JsonNode> expected = new HashMap<>();
        for (JsonNode e : JSON.readTree(FIXTURE_MODEL.resolve("expected.json").toFile()).get("expected")) {
            expected.put(e.get("sample_id").asText() + "/" + e.get("condition").asText(), e);
        }
        List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
        assertEquals(3 * 4, lines.size(), "3 samples x 4 conditions");
        for (String line : lines) {
            JsonNode r = JSON.readTree(line);
            String key = r.get("sample_id").asText() + "/" + r.get("condition").asText();
            JsonNode hf = expected.get(key);
            assertNotNull(hf, "HF reference for " + key);
            assertEquals(hf.get("nll_mean").asDouble(), r.get("nll").asDouble(), 1e-4, key + " nll");
            for (String segment : List.of("bos", "prefix", "document")) {
                assertEquals(hf.get("encoder_segments").get(segment).asInt(), r.get("encoder_segment_tokens").get(segment).asInt(), key + " " + segment);
            }
            for (String segment : List.of("bos", "query", "answer")) {
                assertEquals(hf.get("decoder_segments").get(segment).asInt(), r.get("segment_tokens").get(segment).asInt(), key + " " + segment);
            }
            assertEquals(3, r.get("attention").size(), key + ": one entry per decoder layer");
            assertEquals(3, r.get("cross_attention").size(), key + ": one cross entry per decoder layer");
            for (int l = 0; l < 3; l++) {
                double total = 0;
                for (String part : List.of("attention", "cross_attention")) {
                    for (var s : r.get(part).get(l).get("from_answer").properties()) total += s.getValue().asDouble();
                }
                assertEquals(1.0, total, 1e-4, key + " layer " + l + ": one softmax over [self ; cross]");
            }
        }
    }
}
