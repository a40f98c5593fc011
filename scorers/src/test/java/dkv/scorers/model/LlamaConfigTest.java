package dkv.scorers.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dkv.scorers.fixtures.ReferenceFixture;
import dkv.scorers.score.FixtureFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

class LlamaConfigTest {

    static final java.util.List<String> NAMES = ReferenceFixture.NAMES;

    @Test
    void readsRopeParametersFormWithLlama3Scaling() {
        LlamaConfig c = LlamaConfig.read(ModelSnapshot.open(ReferenceFixture.load("llama").dir()).config());
        assertEquals("llama", c.modelType());
        assertEquals(16, c.headDim());
        assertEquals(2, c.kvGroups());
        assertEquals(10000.0, c.ropeTheta());
        assertEquals(new RopeScaling.Llama3(8.0, 1.0, 4.0, 64), c.ropeScaling());
        assertFalse(c.tieWordEmbeddings());
    }

    @Test
    void readsLegacyTopLevelRopeThetaAndExplicitHeadDim() {
        LlamaConfig c = LlamaConfig.read(ModelSnapshot.open(ReferenceFixture.load("mistral").dir()).config());
        assertEquals(5000.0, c.ropeTheta());
        assertInstanceOf(RopeScaling.Default.class, c.ropeScaling());
        assertEquals(32, c.headDim(), "head_dim given explicitly, not hidden/heads = 16");
        assertTrue(c.tieWordEmbeddings());
        assertEquals(0, c.slidingWindow());
    }

    @Test
    void readsLinearScaling() {
        LlamaConfig c = LlamaConfig.read(ModelSnapshot.open(ReferenceFixture.load("qwen2").dir()).config());
        assertEquals(new RopeScaling.Linear(2.0), c.ropeScaling());
        assertEquals(0, c.slidingWindow(), "use_sliding_window=false");
    }

    /** Inverse frequencies against HF's rotary_emb.inv_freq (float32). */
    @ParameterizedTest
    @FieldSource("NAMES")
    void inverseFrequenciesMatchHf(String name) {
        FixtureFile f = ReferenceFixture.load(name);
        float[] mine = LlamaConfig.read(ModelSnapshot.open(f.dir()).config()).inverseFrequencies();
        JsonNode hf = f.json().get("inv_freq");
        assertEquals(hf.size(), mine.length);
        for (int j = 0; j < mine.length; j++) {
            float expected = (float) hf.get(j).asDouble();
            assertEquals(expected, mine[j], Math.ulp(expected) * 2, name + " inv_freq[" + j + "]");
        }
    }

    @Test
    void unsupportedRopeTypeIsNamed(@TempDir Path dir) throws IOException {
        String json = Files.readString(ReferenceFixture.load("qwen2").dir().resolve("config.json"))
                .replace("\"linear\"", "\"yarn\"");
        Path file = dir.resolve("config.json");
        Files.writeString(file, json);
        var e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.read(ModelSnapshot.open(dir).config()));
        assertTrue(e.getMessage().contains("rope_parameters.rope_type 'yarn'") && e.getMessage().contains(file.toString()),
                e.getMessage());
    }

    @Test
    void missingFieldIsNamed(@TempDir Path dir) throws IOException {
        String json = Files.readString(ReferenceFixture.load("llama").dir().resolve("config.json"))
                .replace("\"hidden_size\"", "\"hidden_size_x\"");
        Path file = dir.resolve("config.json");
        Files.writeString(file, json);
        var e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.read(ModelSnapshot.open(dir).config()));
        assertTrue(e.getMessage().contains("missing field hidden_size"), e.getMessage());
    }
}
