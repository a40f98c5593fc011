package dkv.producers.surrogate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dkv.avro.Sample;
import dkv.producers.plan.PlanException;
import dkv.producers.plan.PlanExpander;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * "Bare padded" (padding): one newline per model token of another condition's surrogate; and the token counts it
 * relies on, for an HF tokenizer.json and for ChatGLM-6B's ice_text.model.
 */
class PaddingSurrogateTest {

    /** The scorer's ChatGLM tokenizer fixture (ops/reference/chatglm_tokenizer_fixtures.py): ids of the published code. */
    static final Path CHATGLM = Path.of("../scorers/src/test/resources/fixtures/chatglm-tokenizer");

    static GeneratorResources tiny() {
        return new GeneratorResources(Optional.of(SurrogateGeneratorsTest.resource("/tiny-model")), Path.of("."), Optional.empty());
    }

    @Test
    void oneNewlinePerTokenOfTheSourceSurrogate() {
        PlanExpander e = SurrogateGeneratorsTest.expander("""
                {"name": "oracle_suffix", "placement": "SUFFIX", "surrogate_kind": "oracle"},
                {"name": "padded", "placement": "SUFFIX", "surrogate_kind": "padding", "of": "oracle_suffix", "separator": ""},
                {"name": "five", "placement": "SUFFIX", "surrogate_kind": "padding", "n": 5}""", 42, tiny());
        TokenVocabulary vocabulary = TokenVocabulary.of(SurrogateGeneratorsTest.resource("/tiny-model"));
        for (Sample s : SurrogateGeneratorsTest.samples()) {
            String padded = SurrogateGeneratorsTest.surrogate(e, s, "padded");
            int tokens = vocabulary.count(s.getQuery());
            assertTrue(tokens > 1, "the query has several tokens: " + tokens);
            assertEquals("\n".repeat(tokens), padded, s.getId());
            assertEquals("\n\n\n\n\n", SurrogateGeneratorsTest.surrogate(e, s, "five"));
        }
    }

    @Test
    void paddingNeedsExactlyOneOfItsParametersAndATokenizerToCount() {
        var both = assertThrows(IllegalArgumentException.class, () -> SurrogateGeneratorsTest.expander("""
                {"name": "o", "placement": "SUFFIX", "surrogate_kind": "oracle"},
                {"name": "p", "placement": "SUFFIX", "surrogate_kind": "padding", "of": "o", "n": 3}""", 42, tiny()));
        assertTrue(both.getMessage().contains("either 'of'") && both.getMessage().contains("conditions[2]"), both.getMessage());
        var noModel = assertThrows(IllegalArgumentException.class, () -> SurrogateGeneratorsTest.expander("""
                {"name": "o", "placement": "SUFFIX", "surrogate_kind": "oracle"},
                {"name": "p", "placement": "SUFFIX", "surrogate_kind": "padding", "of": "o"}"""));
        assertTrue(noModel.getMessage().contains("--model-dir"), noModel.getMessage());
        var unknown = assertThrows(PlanException.class, () -> SurrogateGeneratorsTest.expander("""
                {"name": "p", "placement": "SUFFIX", "surrogate_kind": "padding", "of": "missing"}"""));
        assertTrue(unknown.getMessage().contains("no condition named 'missing'"), unknown.getMessage());
    }

    @Test
    void chatGlmTokenCountsAreThoseOfThePublishedTokenizer() throws IOException {
        assertTrue(Files.isDirectory(CHATGLM), "the scorer's ChatGLM tokenizer fixture is missing: " + CHATGLM.toAbsolutePath());
        JsonNode expected = new ObjectMapper().readTree(CHATGLM.resolve("expected.json").toFile());
        TokenVocabulary vocabulary = TokenVocabulary.of(CHATGLM.resolve("current"));
        int cases = 0;
        for (JsonNode c : expected.get("cases")) {
            String text = c.get("text").asText();
            // newlines, tabs, space runs up to 165, emoji through byte fallback
            assertEquals(c.get("continuation").size(), vocabulary.count(text), new ObjectMapper().writeValueAsString(text));
            cases++;
        }
        assertEquals(27, cases);
        assertTrue(vocabulary.size() > 100, "ordinary pieces: " + vocabulary.size());
        for (int i = 0; i < vocabulary.size(); i++) {
            String piece = vocabulary.decode(new long[] {vocabulary.id(i)});
            assertTrue(TokenVocabulary.isClean(piece) && !piece.matches(".*(<\\|?[a-z_0-9]+\\|?>|\\[[a-zA-Z]*MASK]).*"), "piece " + piece);
        }
    }
}
