package dkv.scorers.model.glm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.scorers.fixtures.ReferenceFixture;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ConfigFields;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.model.ModelSnapshot;
import dkv.scorers.model.PrefixLm;
import dkv.scorers.model.PrefixSharing;
import dkv.scorers.model.checkpoint.TorchCheckpointIndex;
import dkv.scorers.recipe.ModelShape;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GLM family's snapshot side: registry, typed config and what it refuses, .bin weights, the revision fingerprint. */
class GlmFamilyTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final Path DIR = ReferenceFixture.load("glm").dir();

    @Test
    void aChatGlmSnapshotLoadsAsAPrefixLmFromItsBinShards() {
        ModelSnapshot snapshot = ModelSnapshot.open(DIR);
        assertEquals(GlmFamily.INSTANCE, ModelFamilies.familyOf(snapshot));
        TorchCheckpointIndex index = assertInstanceOf(TorchCheckpointIndex.class, snapshot.weights());
        assertTrue(index.contains("lm_head.weight") && index.contains("transformer.layers.2.mlp.dense_4h_to_h.bias"));
        try (CausalLm model = ModelFamilies.loadCausal(DIR, Device.cpu(), DType.FLOAT32)) {
            PrefixLm lm = assertInstanceOf(PrefixLm.class, model);
            assertEquals("glm", lm.family());
            assertEquals(ModelShape.PREFIX_LM, lm.shape());
            assertEquals(PrefixSharing.EXACT, lm.prefixSharing());
            assertEquals(3, lm.layers());
            assertEquals(0, lm.tokenizer().bosLength());
            assertEquals(2, lm.tokenizer().closingLength());
        }
    }

    @Test
    void configFieldsAreChatGlmsOwn() {
        GlmConfig c = GlmConfig.read(ModelSnapshot.open(DIR).config());
        assertEquals(new GlmConfig("chatglm", java.util.List.of("ChatGLMModel"), 576, 64, 96, 3, 4, 1e-5, 512, 177, 180, 181, 176), c);
        assertEquals(16, c.headDim());
    }

    static String refusal(Path dir, Consumer<ObjectNode> edit) throws IOException {
        ObjectNode config = (ObjectNode) JSON.readTree(DIR.resolve("config.json").toFile());
        edit.accept(config);
        Path file = dir.resolve("config.json");
        Files.writeString(file, config.toString());
        return assertThrows(IllegalArgumentException.class, () -> GlmConfig.read(new ConfigFields(file, config))).getMessage();
    }

    @Test
    void otherChatGlmGenerationsAndVariantsAreRefusedByField(@TempDir Path dir) throws IOException {
        String v2 = refusal(dir, c -> c.put("multi_query_attention", true));
        assertTrue(v2.contains("config.json") && v2.contains("multi_query_attention") && v2.contains("ChatGLM2/3"), v2);
        String oneD = refusal(dir, c -> c.put("position_encoding_2d", false));
        assertTrue(oneD.contains("position_encoding_2d") && oneD.contains("2D"), oneD);
        String int4 = refusal(dir, c -> c.put("quantization_bit", 4));
        assertTrue(int4.contains("quantization_bit 4"), int4);
        String missing = refusal(dir, c -> c.remove("inner_hidden_size"));
        assertTrue(missing.endsWith("config.json: missing field inner_hidden_size"), missing);
        String heads = refusal(dir, c -> c.put("num_attention_heads", 32));  // heads of 2 dims: no two channels of pairs
        assertTrue(heads.contains("num_attention_heads 32"), heads);
        assertTrue(!missing.contains("\n") && !v2.contains("\n"), "one-line errors");
    }

    @Test
    void theRevisionFingerprintCoversTheBinEntriesAndTheSentencePieceModel(@TempDir Path dir) throws IOException {
        String fingerprint = ModelSnapshot.open(DIR).revision();
        assertEquals(16, fingerprint.length());
        Path copy = Files.createDirectories(dir.resolve("glm"));
        try (Stream<Path> files = Files.list(DIR)) {
            for (Path f : files.toList()) Files.copy(f, copy.resolve(f.getFileName()));
        }
        assertEquals(fingerprint, ModelSnapshot.open(copy).revision(), "the same files give the same fingerprint");
        Files.write(copy.resolve("ice_text.model"), new byte[] {0}, StandardOpenOption.APPEND);
        String tokenizerChanged = ModelSnapshot.open(copy).revision();
        assertNotEquals(fingerprint, tokenizerChanged, "another SentencePiece model is another revision");
        Files.delete(copy.resolve("pytorch_model-00002-of-00002.bin"));
        var e = assertThrows(IllegalArgumentException.class, () -> ModelSnapshot.open(copy).revision());
        assertTrue(e.getMessage().contains("pytorch_model-00002-of-00002.bin"), e.getMessage());
    }
}
