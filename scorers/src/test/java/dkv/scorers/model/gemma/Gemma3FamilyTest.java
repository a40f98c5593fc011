package dkv.scorers.model.gemma;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.avro.ConditionSpec;
import dkv.avro.Placement;
import dkv.avro.ScoreRecord;
import dkv.scorers.fixtures.ReferenceFixture;
import dkv.scorers.fixtures.SnapshotCopy;
import dkv.scorers.model.AttentionMask;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.KvCache;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.model.ModelSnapshot;
import dkv.scorers.model.gemma.GemmaTextConfig.LayerType;
import dkv.scorers.score.FixtureFile;
import dkv.scorers.score.SampleScorer;
import dkv.scorers.score.ScoreOptions;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Gemma 3's config forms, checkpoint layouts, per-layer-type RoPE and logit softcap (scores against HF: {@code Gemma3FixtureTest}). */
class Gemma3FamilyTest {

    static final String FIXTURE = "gemma3";

    static CausalLm load(Path dir) {
        return ModelFamilies.loadCausal(dir, Device.cpu(), DType.FLOAT32);
    }

    static float[] logits(CausalLm model) {
        int[] ids = model.tokenizer().encode("Water boils at 100 degrees Celsius at sea level, and at lower temperatures higher up.");
        try (TensorScope _ = TensorScope.open()) {
            return Tensors.toFloatArray(model.forward(new ForwardRequest(ids, ForwardRequest.consecutive(0, ids.length), KvCache.empty(),
                    AttentionMask.causal(), 0, ids.length, false)).logits());
        }
    }

    /** The fixture's legacy config (pattern 2, rope_theta / rope_local_base_freq / rope_scaling) rewritten to the 5.x form. */
    static ObjectNode toLayerTypesForm(ObjectNode c, String... layerTypes) {
        double full = c.remove("rope_theta").asDouble();
        double sliding = c.remove("rope_local_base_freq").asDouble();
        double factor = c.remove("rope_scaling").get("factor").asDouble();
        c.remove("sliding_window_pattern");
        var types = c.putArray("layer_types");
        for (String t : layerTypes) types.add(t);
        ObjectNode rope = c.putObject("rope_parameters");
        rope.putObject("sliding_attention").put("rope_type", "default").put("rope_theta", sliding);
        rope.putObject("full_attention").put("rope_type", "linear").put("factor", factor).put("rope_theta", full);
        return c;
    }

    @Test
    void legacyConfigDerivesHfsLayerTypesAndTables() {
        FixtureFile f = ReferenceFixture.load(FIXTURE);
        GemmaTextConfig c = GemmaTextConfig.read(ModelSnapshot.open(f.dir()).config());
        assertEquals(f.json().get("layer_types").size(), c.layers());
        for (int l = 0; l < c.layers(); l++) assertEquals(f.json().get("layer_types").get(l).asText(), c.layerTypes().get(l).configName);
        for (LayerType t : LayerType.values()) {
            assertArrayEquals(T5Gemma2FamilyTest.floats(f.json().get("inv_freq").get(t.configName)),
                    c.ropes().get(t).inverseFrequencies(c.headDim()), t.toString());
        }
    }

    @Test
    void layerTypesFormGivesTheSameModel(@TempDir Path dir) throws IOException {
        SnapshotCopy.of(FIXTURE, dir, c -> toLayerTypesForm(c, "sliding_attention", "full_attention", "sliding_attention"));
        try (CausalLm legacy = load(ReferenceFixture.load(FIXTURE).dir()); CausalLm modern = load(dir)) {
            assertArrayEquals(logits(legacy), logits(modern));
        }
    }

    /** Gemma-3-4B/12B/27B checkpoints: text keys under text_config, text weights under language_model.model. */
    @Test
    void conditionalGenerationCheckpointRunsItsTextModel(@TempDir Path dir) throws IOException {
        SnapshotCopy.of(FIXTURE, dir, c -> {
            ObjectNode top = c.objectNode();
            top.putArray("architectures").add("Gemma3ForConditionalGeneration");
            top.put("model_type", "gemma3");
            top.set("text_config", c);
            top.putObject("vision_config").put("model_type", "siglip_vision_model");
            return top;
        });
        SnapshotCopy.rewriteWeights(dir, name -> name.replaceFirst("^model\\.", "language_model.model."), false);
        try (CausalLm text = load(ReferenceFixture.load(FIXTURE).dir()); CausalLm multimodal = load(dir)) {
            assertEquals("gemma3", multimodal.family());
            assertArrayEquals(logits(text), logits(multimodal));
        }
    }

    /**
     * Each layer's keys were rotated with its type's table, and truncation re-rotates them with it: with a full layer
     * first, the layer-0 document keys of a corrected truncation equal the bare cache's only if layer 0 is re-rotated
     * with the full table (θ/factor), not the sliding one (the fixture's own layer 0 is sliding).
     */
    @Test
    void truncationReRotatesEachLayerWithItsTypesTable(@TempDir Path dir) throws IOException {
        SnapshotCopy.of(FIXTURE, dir, c -> toLayerTypesForm(c, "full_attention", "sliding_attention", "full_attention"));
        FixtureFile f = ReferenceFixture.load(FIXTURE);
        var sample = f.samples().get("s1");
        ConditionSpec trunc = f.conditions("s1").stream().filter(c -> c.getName().equals("trunc")).findFirst().orElseThrow();
        ConditionSpec uncorrected = f.conditions("s1").stream().filter(c -> c.getName().equals("trunc_uncorrected")).findFirst().orElseThrow();
        assertEquals(Placement.PREFIX_TRUNCATED, trunc.getPlacement());
        try (CausalLm model = load(dir)) {
            assertSame(model.rope(0), model.rope(2));
            assertNotSame(model.rope(0), model.rope(1));
            List<ScoreRecord> records = new SampleScorer(model).score(sample, List.of(trunc, uncorrected), ScoreOptions.defaults());
            assertTrue(records.get(0).getDocumentKvMaxAbsDelta() < 1e-5, "corrected: " + records.get(0).getDocumentKvMaxAbsDelta());
            assertTrue(records.get(1).getDocumentKvMaxAbsDelta() > 1e-2, "uncorrected: " + records.get(1).getDocumentKvMaxAbsDelta());
        }
    }

    @Test
    void finalLogitSoftcappingIsApplied(@TempDir Path dir) throws IOException {
        SnapshotCopy.of(FIXTURE, dir, c -> c.put("final_logit_softcapping", 0.5));
        try (CausalLm plain = load(ReferenceFixture.load(FIXTURE).dir()); CausalLm capped = load(dir)) {
            float[] a = logits(plain);
            float[] b = logits(capped);
            for (int i = 0; i < a.length; i++) assertEquals(0.5 * Math.tanh(a[i] / 0.5), b[i], 1e-6, "logit " + i);
        }
    }

    @Test
    void unsupportedConfigsAreNamedWithFileAndField(@TempDir Path dir) throws IOException {
        Path layer = SnapshotCopy.of(FIXTURE, Files.createDirectories(dir.resolve("a")),
                c -> toLayerTypesForm(c, "sliding_attention", "chunked_attention", "sliding_attention"));
        Path activation = SnapshotCopy.of(FIXTURE, Files.createDirectories(dir.resolve("b")),
                c -> c.put("hidden_activation", "silu"));
        Path bidirectional = SnapshotCopy.of(FIXTURE, Files.createDirectories(dir.resolve("c")),
                c -> c.put("use_bidirectional_attention", true));
        for (var expected : List.of(List.of(layer, "layer_types[1] 'chunked_attention'"), List.of(activation, "hidden_activation 'silu'"),
                List.of(bidirectional, "use_bidirectional_attention true"))) {
            Path where = (Path) expected.get(0);
            var e = assertThrows(IllegalArgumentException.class, () -> load(where));
            assertTrue(e.getMessage().contains(where.resolve("config.json").toString()) && e.getMessage().contains((String) expected.get(1)),
                    e.getMessage());
        }
    }
}
