package dkv.scorers.model.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How the sentence-transformers files of a snapshot decide truncation, pooling and normalisation. */
class BertSentenceTransformerConfigTest {

    @Test
    void theHubLayoutIsMeanPooledNormalisedAndCutAtMaxSeqLength() {
        assertEquals(new SentenceTransformerConfig(24, Pooling.MEAN, true),
                SentenceTransformerConfig.read(BertFixture.dir("bert"), 32, 48));
    }

    @Test
    void sentenceTransformers6KeepsTheLengthInTheTokenizerConfig() {
        assertEquals(new SentenceTransformerConfig(24, Pooling.MEAN, true),
                SentenceTransformerConfig.read(BertFixture.dir("bert_st6"), 32, 48));
    }

    @Test
    void aPlainHfSnapshotIsMeanPooledAndCutAtThePositionTable(@TempDir Path dir) throws IOException {
        BertFixture.copy("bert", dir);
        Files.delete(dir.resolve("modules.json"));
        Files.delete(dir.resolve("sentence_bert_config.json"));
        // tokenizer_config.json says 512; the position table has 48 rows
        assertEquals(new SentenceTransformerConfig(48, Pooling.MEAN, false), SentenceTransformerConfig.read(dir, 32, 48));
        Files.delete(dir.resolve("tokenizer_config.json"));
        assertEquals(48, SentenceTransformerConfig.read(dir, 32, 48).maxTokens());
    }

    @Test
    void poolingModesInBothForms(@TempDir Path dir) throws IOException {
        BertFixture.copy("bert", dir);
        Path pooling = dir.resolve("1_Pooling/config.json");
        Files.writeString(pooling, "{\"word_embedding_dimension\": 32, \"pooling_mode_cls_token\": true}");
        assertEquals(Pooling.CLS, SentenceTransformerConfig.read(dir, 32, 48).pooling());
        Files.writeString(pooling, "{\"word_embedding_dimension\": 32}");
        assertEquals(Pooling.MEAN, SentenceTransformerConfig.read(dir, 32, 48).pooling(), "no mode set: mean");
        Files.writeString(pooling, "{\"pooling_mode\": [\"max\"]}");
        assertEquals(Pooling.MAX, SentenceTransformerConfig.read(dir, 32, 48).pooling());
        Files.writeString(pooling, "{\"pooling_mode\": [\"cls\", \"mean\"]}");
        var e = assertThrows(IllegalArgumentException.class, () -> SentenceTransformerConfig.read(dir, 32, 48));
        assertTrue(e.getMessage().contains(pooling.toString()) && e.getMessage().contains("pooling_mode [cls, mean]"), e.getMessage());
        Files.writeString(pooling, "{\"embedding_dimension\": 384, \"pooling_mode\": \"mean\"}");
        e = assertThrows(IllegalArgumentException.class, () -> SentenceTransformerConfig.read(dir, 32, 48));
        assertTrue(e.getMessage().contains("embedding_dimension 384"), e.getMessage());
    }

    @Test
    void aDefaultPromptIsRefused(@TempDir Path dir) throws IOException {
        BertFixture.copy("bert_st6", dir);
        Path file = dir.resolve("config_sentence_transformers.json");
        Files.writeString(file, Files.readString(file).replace("\"default_prompt_name\": null", "\"default_prompt_name\": \"query\""));
        var e = assertThrows(IllegalArgumentException.class, () -> SentenceTransformerConfig.read(dir, 32, 48));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("default_prompt_name query"), e.getMessage());
    }

    @Test
    void modulesOutOfOrderAreRefused(@TempDir Path dir) throws IOException {
        BertFixture.copy("bert", dir);
        Files.writeString(dir.resolve("modules.json"), "[{\"idx\": 0, \"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"}]");
        var e = assertThrows(IllegalArgumentException.class, () -> SentenceTransformerConfig.read(dir, 32, 48));
        assertTrue(e.getMessage().contains("modules.json") && e.getMessage().contains("Transformer, Pooling"), e.getMessage());
    }
}
