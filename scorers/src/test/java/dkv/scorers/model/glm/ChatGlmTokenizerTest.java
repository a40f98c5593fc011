package dkv.scorers.model.glm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Against ops/reference/chatglm_tokenizer_fixtures.py: a tiny ChatGLM-like ice_text.model and the ids that
 * ChatGLM's published tokenizer code (re-implemented over the Python sentencepiece package) gives for a corpus of
 * Chinese, English, space runs up to 165, tabs, newlines, byte-fallback characters and special-token text.
 */
class ChatGlmTokenizerTest {

    static final ObjectMapper JSON = new ObjectMapper();

    static Path fixture(String name) {
        try {
            return Path.of(ChatGlmTokenizerTest.class.getResource("/fixtures/chatglm-tokenizer/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("fixture chatglm-tokenizer/" + name + " missing from test resources", e);
        }
    }

    static JsonNode expected() throws IOException {
        return JSON.readTree(fixture("expected.json").toFile());
    }

    static int[] ints(JsonNode array, int shift) {
        return IntStream.range(0, array.size()).map(i -> array.get(i).asInt() + shift).toArray();
    }

    @Test
    void idsEqualTheReferenceOnTheWholeCorpus() throws IOException {
        JsonNode expected = expected();
        int cases = 0;
        try (ChatGlmTokenizer tok = ChatGlmTokenizer.open(fixture("current"))) {
            assertEquals(0, tok.offset());
            for (JsonNode c : expected.get("cases")) {
                String text = c.get("text").asText();
                String where = JSON.writeValueAsString(text);
                assertEquals(c.get("preprocessed").asText(), ChatGlmWhitespace.encode(text), where);
                assertArrayEquals(ints(c.get("continuation"), 0), tok.encodeContinuation(text), where);
                assertArrayEquals(ints(c.get("prompt"), 0), tok.encodePrompt(text), where);
                assertEquals(c.get("decoded").asText(), tok.decode(tok.encode(text)), where);
                cases++;
            }
        }
        assertEquals(27, cases);
    }

    /** Unknown piece, malformed and interrupted byte runs, control pieces first, the raw bytes of ▁, specials. */
    @Test
    void decodeEqualsSentencePieceOnIdsEncodingNeverMakes() throws IOException {
        try (ChatGlmTokenizer tok = ChatGlmTokenizer.open(fixture("current"))) {
            for (JsonNode c : expected().get("decode_cases")) {
                assertEquals(c.get("decoded").asText(), tok.decode(ints(c.get("ids"), 0)), c.get("pieces").toString());
            }
        }
    }

    @Test
    void specialIdsComeFromTheModelAndAgreeWithConfig() throws IOException {
        JsonNode expected = expected();
        try (ChatGlmTokenizer tok = ChatGlmTokenizer.open(fixture("current"))) {
            assertEquals(expected.get("gmask").asInt(), tok.gmaskId());
            assertEquals(expected.get("sop").asInt(), tok.sopId());
            assertEquals(expected.get("eop").asInt(), tok.eopId());
            assertEquals(expected.get("mask").asInt(), tok.maskId());
            // ChatGLM's layout: specials right after the base vocabulary, [MASK] [gMASK] [sMASK] <unused_0> <sop> <eop>
            assertEquals(tok.maskId() + 1, tok.gmaskId());
            assertEquals(tok.maskId() + 4, tok.sopId());
            int[] prompt = tok.encodePrompt("你好");
            assertArrayEquals(new int[] {tok.gmaskId(), tok.sopId()}, Arrays.copyOfRange(prompt, prompt.length - 2, prompt.length));
        }
    }

    /** The 150528-vocab revision: no num_image_tokens, config.json ids 20000 higher; the offset follows config.json. */
    @Test
    void shiftedRevisionDerivesItsOffsetFromConfig() throws IOException {
        JsonNode expected = expected();
        try (ChatGlmTokenizer tok = ChatGlmTokenizer.open(fixture("shifted"))) {
            assertEquals(20000, tok.offset());
            assertEquals(expected.get("gmask").asInt() + 20000, tok.gmaskId());
            assertEquals(expected.get("eop").asInt() + 20000, tok.eopId());
            for (JsonNode c : expected.get("cases")) {
                String text = c.get("text").asText();
                assertArrayEquals(ints(c.get("prompt"), 20000), tok.encodePrompt(text), text);
            }
            int[] withImageTokens = {3, 19999, tok.encode("你好")[0]};
            assertEquals("你好", tok.decode(withImageTokens), "ids below the offset are image tokens, dropped");
        }
    }

    @Test
    void configThatDisagreesOrSaysNothingIsNamed(@TempDir Path tmp) throws IOException {
        Files.copy(fixture("current/ice_text.model"), tmp.resolve("ice_text.model"));
        ObjectNode config = (ObjectNode) JSON.readTree(fixture("current/config.json").toFile());
        config.put("bos_token_id", 130004);
        JSON.writeValue(tmp.resolve("config.json").toFile(), config);
        Files.copy(fixture("current/tokenizer_config.json"), tmp.resolve("tokenizer_config.json"));
        var e = assertThrows(IllegalArgumentException.class, () -> ChatGlmTokenizer.open(tmp));
        assertEquals(tmp.resolve("config.json") + ": bos_token_id is 130004 but <sop> is id 504 (piece 504 + offset 0)",
                e.getMessage());

        Files.delete(tmp.resolve("config.json"));
        Files.writeString(tmp.resolve("tokenizer_config.json"), "{\"bos_token\": \"<sop>\"}");
        e = assertThrows(IllegalArgumentException.class, () -> ChatGlmTokenizer.open(tmp));
        assertEquals(tmp + ": cannot tell the image-token id offset: tokenizer_config.json has no num_image_tokens"
                + " and config.json no gmask_token_id", e.getMessage());

        Files.writeString(tmp.resolve("tokenizer_config.json"), "{\"num_image_tokens\": 0, \"do_lower_case\": true}");
        e = assertThrows(IllegalArgumentException.class, () -> ChatGlmTokenizer.open(tmp));
        assertEquals(tmp.resolve("tokenizer_config.json") + ": do_lower_case is true, which this tokenizer does not support",
                e.getMessage());

        Files.delete(tmp.resolve("ice_text.model"));
        e = assertThrows(IllegalArgumentException.class, () -> ChatGlmTokenizer.open(tmp));
        assertEquals(tmp + ": no ice_text.model", e.getMessage());
    }

    @Test
    void badModelAndBadIdsAreErrorsNotCrashes(@TempDir Path tmp) throws IOException {
        Files.writeString(tmp.resolve("ice_text.model"), "not a sentencepiece model");
        var e = assertThrows(IllegalArgumentException.class, () -> ChatGlmTokenizer.open(tmp));
        assertTrue(e.getMessage().startsWith(tmp.resolve("ice_text.model") + ": not a SentencePiece model"), e.getMessage());
        try (ChatGlmTokenizer tok = ChatGlmTokenizer.open(fixture("current"))) {
            // the native IdToPiece aborts the JVM on such an id; the Java vocabulary refuses it first
            var bad = assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {9, 130000}));
            assertEquals(fixture("current/ice_text.model") + ": piece id 130000 outside the vocabulary of 844", bad.getMessage());
        }
    }
}
