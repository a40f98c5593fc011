package dkv.scorers.model.gemma;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.scorers.fixtures.ReferenceFixture;
import dkv.scorers.fixtures.SnapshotCopy;
import dkv.scorers.model.AttentionMask;
import dkv.scorers.model.EncoderMemory;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.KvCache;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.model.ModelSnapshot;
import dkv.scorers.model.Positions;
import dkv.scorers.model.Seq2SeqLm;
import dkv.scorers.model.Window;
import dkv.scorers.model.gemma.GemmaTextConfig.LayerType;
import dkv.scorers.score.FixtureFile;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** T5Gemma 2's config, weight layouts and input checks (the scores against HF: {@code T5Gemma2FixtureTest}). */
class T5Gemma2FamilyTest {

    static final String FIXTURE = "t5gemma2";

    static Seq2SeqLm load(Path dir) {
        return (Seq2SeqLm) ModelFamilies.load(dir, Device.cpu(), DType.FLOAT32);
    }

    /** Logits [decoder tokens, vocab] of the first fixture record's decoder over its encoder input, every encoder token visible. */
    static float[] logits(Seq2SeqLm model) {
        JsonNode e = ReferenceFixture.load(FIXTURE).json().get("expected").get(1);  // coencode: a prefix in the encoder
        int[] enc = ints(e.get("encoder_ids"));
        int[] dec = ints(e.get("decoder_ids"));
        try (TensorScope _ = TensorScope.open()) {
            EncoderMemory memory = model.encode(List.of(enc)).getFirst();
            return Tensors.toFloatArray(model.forward(new ForwardRequest(dec, Positions.consecutive(0, dec.length), KvCache.empty(),
                    AttentionMask.causal(), 0, dec.length, false, ForwardRequest.Cross.all(memory))).logits());
        }
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    static float[] floats(JsonNode a) {
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) a.get(i).asDouble();
        return out;
    }

    @Test
    void ropeTablesOfEachStreamAndLayerTypeAreHfs() {
        FixtureFile f = ReferenceFixture.load(FIXTURE);
        var config = ModelSnapshot.open(f.dir()).config();
        Map<String, GemmaTextConfig> streams = Map.of(
                "encoder", GemmaTextConfig.read(config.object("encoder").object("text_config")),
                "decoder", GemmaTextConfig.read(config.object("decoder")));
        streams.forEach((stream, c) -> {
            for (LayerType t : LayerType.values()) {
                assertArrayEquals(floats(f.json().get("inv_freq").get(stream).get(t.configName)),
                        c.ropes().get(t).inverseFrequencies(c.headDim()), stream + " " + t);
            }
        });
        // the encoder's sliding layers see [q-3, q+4] for W = 8 (HF's left (W+1)//2, right W//2); the decoder's (q-6, q]
        GemmaTextConfig encoder = streams.get("encoder");
        assertEquals(List.of(LayerType.SLIDING, LayerType.FULL, LayerType.SLIDING), encoder.layerTypes());
        assertEquals(new Window(3, 4), encoder.window(0, true));
        assertEquals(Window.NONE, encoder.window(1, true));
        assertEquals(new Window(5, 0), streams.get("decoder").window(0, false));
    }

    /** A bf16 hub checkpoint loads as float32: its weights are the fixture's rounded to bf16, so the logits move a little. */
    @Test
    void bfloat16CheckpointIsCastOnLoad(@TempDir Path dir) throws IOException {
        SnapshotCopy.of(FIXTURE, dir, c -> c);
        SnapshotCopy.rewriteWeights(dir, name -> name, true);
        float[] reference;
        float[] cast;
        try (Seq2SeqLm model = load(ReferenceFixture.load(FIXTURE).dir())) {
            reference = logits(model);
        }
        try (Seq2SeqLm model = load(dir)) {
            assertEquals(DType.FLOAT32, model.dtype());
            cast = logits(model);
        }
        double max = 0;
        for (int i = 0; i < reference.length; i++) max = Math.max(max, Math.abs(reference[i] - cast[i]));
        assertTrue(max > 0 && max < 0.5, "bf16-rounded weights moved the logits by " + max);
    }

    /** Both layouts, and a checkpoint without the vision tower at all, give the same logits bit for bit. */
    @Test
    void weightLayoutsAndVisionWeightsDoNotChangeTheLogits(@TempDir Path dir) throws IOException {
        SnapshotCopy.of(FIXTURE, dir, c -> c);
        SnapshotCopy.rewriteWeights(dir, name -> name.contains("vision_tower") || name.contains("multi_modal_projector") ? null : name, false);
        float[] hub;
        try (Seq2SeqLm model = load(ReferenceFixture.load(FIXTURE).dir())) {
            hub = logits(model);
        }
        try (Seq2SeqLm model = load(ReferenceFixture.load("t5gemma2_textmodel").dir())) {
            assertArrayEquals(hub, logits(model), "model.encoder.text_model.* with explicit tied tensors");
        }
        try (Seq2SeqLm model = load(dir)) {
            assertArrayEquals(hub, logits(model), "no vision weights");
        }
    }

    @Test
    void imageTokensInTheTextAreRefusedNamingTheField() {
        try (Seq2SeqLm model = load(ReferenceFixture.load(FIXTURE).dir())) {
            var e = assertThrows(IllegalArgumentException.class, () -> model.encode(List.of(new int[] {2, 100, 6, 101})));
            assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("image_token_index 6")
                    && e.getMessage().contains("position 2"), e.getMessage());
        }
    }

    @Test
    void unsupportedLayerTypeIsNamedWithFileAndField(@TempDir Path dir) throws IOException {
        SnapshotCopy.of(FIXTURE, dir, c -> {
            ((ArrayNode) c.get("encoder").get("text_config").get("layer_types")).set(1, "chunked_attention");
            return c;
        });
        var e = assertThrows(IllegalArgumentException.class, () -> load(dir));
        assertTrue(e.getMessage().contains(dir.resolve("config.json").toString())
                && e.getMessage().contains("encoder.text_config.layer_types[1] 'chunked_attention'"), e.getMessage());
    }

    @Test
    void untiedConfigWithoutTheTiedTensorsIsNamed(@TempDir Path dir) throws IOException {
        SnapshotCopy.of(FIXTURE, dir, c -> c.put("tie_word_embeddings", false));
        var e = assertThrows(IllegalArgumentException.class, () -> load(dir));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("tie_word_embeddings")
                && e.getMessage().contains("model.decoder.embed_tokens.weight"), e.getMessage());
    }

    @Test
    void missingEmbeddingThatTheTiedTensorsShareIsNamed(@TempDir Path dir) throws IOException {
        SnapshotCopy.of(FIXTURE, dir, c -> c);
        SnapshotCopy.rewriteWeights(dir, name -> name.equals("model.encoder.embed_tokens.weight") ? null : name, false);
        var e = assertThrows(IllegalArgumentException.class, () -> load(dir));
        assertTrue(e.getMessage().contains(dir.toString()) && e.getMessage().contains("model.encoder.embed_tokens.weight"), e.getMessage());
    }

    @Test
    void encoderAndDecoderMustShareTheHiddenSize(@TempDir Path dir) throws IOException {
        SnapshotCopy.of(FIXTURE, dir, c -> {
            ((ObjectNode) c.get("decoder")).put("hidden_size", 32);
            return c;
        });
        var e = assertThrows(IllegalArgumentException.class, () -> load(dir));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("decoder.hidden_size 32"), e.getMessage());
    }
}
