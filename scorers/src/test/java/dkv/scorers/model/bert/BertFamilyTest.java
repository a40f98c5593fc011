package dkv.scorers.model.bert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.scorers.model.ModelFamilies;
import dkv.scorers.model.SegmentTokenizer;
import dkv.scorers.model.TextEncoder;
import dkv.scorers.model.TextEncoder.Embedding;
import dkv.scorers.recipe.ModelShape;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The BERT encoder against HF transformers (ops/reference/bert_fixtures.py): float32 on CPU, every vector element
 * within 1e-5 of BertModel + pooling + L2 normalisation, identical token ids (truncated at max_seq_length, not at
 * tokenizer.json's own limit), on all three snapshot layouts of the same weights.
 */
class BertFamilyTest {

    static final double TOLERANCE = 1e-5;
    static final List<String> SNAPSHOTS = BertFixture.SNAPSHOTS;
    static final BertFixture FIXTURE = BertFixture.load();

    static TextEncoder load(Path dir) {
        return TextEncoder.require(ModelFamilies.load(dir, Device.cpu(), DType.FLOAT32));
    }

    /** Largest |got − want| over every element of every text. */
    static double maxDifference(List<Embedding> got, Function<BertFixture.Text, float[]> want) {
        double max = 0;
        for (int t = 0; t < got.size(); t++) {
            float[] w = want.apply(FIXTURE.texts().get(t));
            float[] g = got.get(t).vector();
            assertEquals(w.length, g.length, FIXTURE.texts().get(t).id());
            for (int i = 0; i < w.length; i++) max = Math.max(max, Math.abs(g[i] - w[i]));
        }
        return max;
    }

    @ParameterizedTest
    @FieldSource("SNAPSHOTS")
    void embedsTextsOfEveryLengthInOneBatchAsHf(String snapshot) {
        long handles = Tensor.liveHandles();
        try (TextEncoder encoder = load(BertFixture.dir(snapshot))) {
            assertEquals("bert", encoder.family());
            assertEquals(ModelShape.ENCODER, encoder.shape());
            assertEquals(FIXTURE.maxSeqLength(), encoder.maxTokens());
            assertEquals(32, encoder.dimension());
            List<int[]> ids = encoder.tokenizer().encodeAll(FIXTURE.strings());
            for (int t = 0; t < ids.size(); t++) {
                assertArrayEquals(FIXTURE.texts().get(t).ids(), ids.get(t), snapshot + " ids of " + FIXTURE.texts().get(t).id());
            }
            List<Embedding> got = encoder.embed(FIXTURE.strings());
            for (int t = 0; t < got.size(); t++) {
                assertEquals(FIXTURE.texts().get(t).ids().length, got.get(t).tokens(), FIXTURE.texts().get(t).id());
            }
            double diff = maxDifference(got, BertFixture.Text::mean);
            assertTrue(diff <= TOLERANCE, snapshot + ": max |Δ| " + diff);
        }
        assertEquals(handles, Tensor.liveHandles(), "tensor handles leaked by load, embed and close");
    }

    @Test
    void theLongTextIsCutAtMaxSeqLengthCountingClsAndSep() {
        BertFixture.Text longText = FIXTURE.texts().stream().filter(t -> t.id().equals("long")).findFirst().orElseThrow();
        try (TextEncoder encoder = load(BertFixture.dir("bert"));
             SegmentTokenizer untruncated = SegmentTokenizer.open(BertFixture.dir("bert"))) {
            int[] full = untruncated.encode(longText.text());
            assertTrue(full.length > FIXTURE.maxSeqLength(), "the fixture's long text is longer than max_seq_length: " + full.length);
            Embedding e = encoder.embed(List.of(longText.text())).getFirst();
            assertEquals(FIXTURE.maxSeqLength(), e.tokens());
            int[] cut = encoder.tokenizer().encode(longText.text());
            assertEquals(full[0], cut[0], "[CLS] first");
            assertEquals(full[full.length - 1], cut[cut.length - 1], "[SEP] kept last");
        }
    }

    @Test
    void eachTextAloneEmbedsAsInABatch() {
        try (TextEncoder encoder = load(BertFixture.dir("bert"))) {
            List<Embedding> alone = FIXTURE.strings().stream().map(t -> encoder.embed(List.of(t)).getFirst()).toList();
            double diff = maxDifference(alone, BertFixture.Text::mean);
            assertTrue(diff <= TOLERANCE, "max |Δ| " + diff);
            assertEquals(List.of(), encoder.embed(List.of()));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cls", "max"})
    void clsAndMaxPoolingMatchHf(String mode, @TempDir Path dir) throws IOException {
        BertFixture.copy("bert", dir);
        Files.writeString(dir.resolve("1_Pooling/config.json"), "{\"embedding_dimension\": 32, \"pooling_mode\": \"" + mode + "\"}");
        try (TextEncoder encoder = load(dir)) {
            double diff = maxDifference(encoder.embed(FIXTURE.strings()), mode.equals("cls") ? BertFixture.Text::cls : BertFixture.Text::max);
            assertTrue(diff <= TOLERANCE, mode + ": max |Δ| " + diff);
        }
    }

    @Test
    void vectorsHaveUnitLengthSoCosineIsTheirDotProduct() {
        try (TextEncoder encoder = load(BertFixture.dir("bert"))) {
            List<Embedding> got = encoder.embed(FIXTURE.strings());
            for (int a = 0; a < got.size(); a++) {
                assertEquals(1.0, got.get(a).cosine(got.get(a)), 1e-6, "unit length");
                for (int b = 0; b < got.size(); b++) {
                    double want = 0;
                    for (int i = 0; i < 32; i++) want += (double) FIXTURE.texts().get(a).mean()[i] * FIXTURE.texts().get(b).mean()[i];
                    assertEquals(want, got.get(a).cosine(got.get(b)), 2e-5, a + "·" + b);
                }
            }
        }
    }

    @Test
    void anotherKindIsRefusedAsAnEncoder() {
        Path llama = BertFixture.dir("llama");
        var e = assertThrows(IllegalArgumentException.class, () -> load(llama));
        assertTrue(e.getMessage().equals(llama + ": a llama model is not a sentence encoder (a BERT sentence-transformers snapshot is)"),
                e.getMessage());
    }

    @Test
    void aZeroVectorStaysZeroWhenNormalised() {
        assertArrayEquals(new float[3], Embedding.unitLength(new float[3]));
        assertArrayEquals(new float[] {0.6f, -0.8f}, Embedding.unitLength(new float[] {3, -4}), 1e-7f);
    }

    static String edited(Path file, String from, String to) throws IOException {
        String text = Files.readString(file);
        if (!text.contains(from)) throw new IllegalStateException(file + " lacks " + from);
        Files.writeString(file, text.replace(from, to));
        return file.toString();
    }

    /** Each case edits one file of a copy of the fixture; the error must name that file and the field. */
    @ParameterizedTest
    @ValueSource(strings = {"hidden_act", "position_embedding_type", "pooling", "modules", "max_seq_length", "do_lower_case"})
    void whatItCannotRunIsRefusedNamingTheFileAndField(String what, @TempDir Path dir) throws IOException {
        BertFixture.copy("bert", dir);
        String file;
        String field;
        switch (what) {
            case "hidden_act" -> {
                file = edited(dir.resolve("config.json"), "\"hidden_act\": \"gelu\"", "\"hidden_act\": \"gelu_new\"");
                field = "hidden_act gelu_new";
            }
            case "position_embedding_type" -> {
                file = edited(dir.resolve("config.json"), "\"hidden_act\"", "\"position_embedding_type\": \"relative_key\", \"hidden_act\"");
                field = "position_embedding_type relative_key";
            }
            case "pooling" -> {
                file = edited(dir.resolve("1_Pooling/config.json"), "\"pooling_mode_mean_tokens\": true",
                        "\"pooling_mode_mean_tokens\": false, \"pooling_mode_weightedmean_tokens\": true");
                field = "pooling_mode_* weightedmean";
            }
            case "modules" -> {
                file = edited(dir.resolve("modules.json"), "models.Normalize", "models.Dense");
                field = "sentence_transformers.models.Dense";
            }
            case "max_seq_length" -> {
                file = edited(dir.resolve("sentence_bert_config.json"), "\"max_seq_length\": 24", "\"max_seq_length\": 49");
                field = "max_seq_length 49";
            }
            default -> {
                file = edited(dir.resolve("sentence_bert_config.json"), "\"do_lower_case\": false", "\"do_lower_case\": true");
                field = "do_lower_case true";
            }
        }
        var e = assertThrows(IllegalArgumentException.class, () -> ModelFamilies.load(dir, Device.cpu(), DType.FLOAT32));
        assertTrue(e.getMessage().contains(file) && e.getMessage().contains(field), e.getMessage());
    }
}
