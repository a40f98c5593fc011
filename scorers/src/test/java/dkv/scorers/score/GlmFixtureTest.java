package dkv.scorers.score;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dkv.avro.ConditionSpec;
import dkv.avro.Placement;
import dkv.avro.Sample;
import dkv.avro.ScoreRecord;
import dkv.schemas.SegmentFields;
import dkv.scorers.fixtures.ReferenceFixture;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.model.LayoutTokenizer;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.model.ModelSnapshot;
import dkv.scorers.model.Positions;
import dkv.scorers.model.PrefixLm;
import dkv.scorers.model.Rope2D;
import dkv.scorers.model.Rope;
import dkv.scorers.recipe.Segment;
import dkv.scorers.recipe.SegmentTexts;
import dkv.scorers.recipe.SequenceLayout;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every sample × condition of the GLM fixture (ops/reference/glm_fixtures.py: a tiny random ChatGLM-6B snapshot in
 * .bin shards, scored by the independent float64 NumPy reference) in float32 on CPU: NLLs, answer log-probs and the
 * document K/V check within 1e-4, token ids and segment lengths of both tokenized parts, the 2D positions of the
 * prefill, of the cache after surgery and of the continuation, and a checksum of the layer-0 document keys the
 * continuation attends to. Scored three ways: shared prompt prefills and batched continuations (the default), every
 * condition through its own forwards one at a time, and all samples in one call.
 */
class GlmFixtureTest {

    static final double TOLERANCE = 1e-4;
    static FixtureFile fixture;
    static PrefixLm model;

    @BeforeAll
    static void load() {
        fixture = ReferenceFixture.load("glm");
        model = (PrefixLm) ModelFamilies.loadCausal(fixture.dir(), Device.cpu(), DType.FLOAT32);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @Test
    void sharedPromptsAndBatchedContinuationsMatchTheReference() {
        check(new SampleScorer(model), ScoreOptions.defaults(), false);
    }

    @Test
    void separateForwardsOneAtATimeMatchTheReference() {
        check(new SampleScorer(model), ScoreOptions.defaults().withSharing(false).withMaxBatch(1), false);
    }

    @Test
    void allSamplesInOneCallMatchTheReference() {
        check(new SampleScorer(model), ScoreOptions.defaults(), true);
    }

    static void check(SampleScorer scorer, ScoreOptions options, boolean allAtOnce) {
        List<Sample> samples = List.copyOf(fixture.samples().values());
        List<List<ScoreRecord>> scored = allAtOnce
                ? scorer.scoreAll(samples.stream().map(s -> new SampleScorer.SampleWork(s, fixture.conditions(s.getId()))).toList(), options)
                : samples.stream().map(s -> scorer.score(s, fixture.conditions(s.getId()), options)).toList();
        double[] worst = new double[3];
        int compared = 0;
        for (int s = 0; s < samples.size(); s++) {
            for (ScoreRecord r : scored.get(s)) {
                compare(fixture.expected(samples.get(s).getId(), r.getCondition()), r, samples.get(s).getId(), worst);
                compared++;
            }
        }
        assertEquals(fixture.json().get("expected").size(), compared, "every expected record compared");
        System.out.printf(Locale.ROOT, "glm fixture %s: max |dNLL| %.2e, max |d token logprob| %.2e, max |d document check| %.2e%n",
                options, worst[0], worst[1], worst[2]);
    }

    /** One record against its expectation; {@code worst} collects the largest NLL, log-prob and K/V-check deviations. */
    static void compare(JsonNode e, ScoreRecord r, String sampleId, double[] worst) {
        String where = sampleId + "/" + r.getCondition();
        assertEquals(e.get("answer_tokens").asInt(), r.getAnswerTokens(), where);
        for (String field : SegmentFields.tokenFields()) {
            assertEquals(expectedSegment(e.get("segments"), field), SegmentFields.count(r.getSegments(), field), where + " " + field);
        }
        double nll = Math.abs(e.get("nll_mean").asDouble() - r.getNllMean());
        assertTrue(nll <= TOLERANCE, where + " |d nll_mean| " + nll);
        assertEquals(e.get("nll_sum").asDouble(), r.getNllSum(), TOLERANCE * r.getAnswerTokens(), where + " nll_sum");
        for (int i = 0; i < r.getAnswerTokens(); i++) {
            double d = Math.abs(e.get("token_logprobs").get(i).asDouble() - r.getTokenLogprobs().get(i));
            assertTrue(d <= TOLERANCE, where + " token " + i + " |d logprob| " + d);
            worst[1] = Math.max(worst[1], d);
        }
        JsonNode delta = e.get("document_kv_max_abs_delta");
        assertEquals(delta.isNull(), r.getDocumentKvMaxAbsDelta() == null, where + " document check " + r.getDocumentKvMaxAbsDelta());
        if (!delta.isNull()) {
            double d = Math.abs(delta.asDouble() - r.getDocumentKvMaxAbsDelta());
            assertTrue(d <= TOLERANCE, where + " |d document check| " + d);
            worst[2] = Math.max(worst[2], d);
        }
        worst[0] = Math.max(worst[0], nll);
    }

    /** The fixture counts [gMASK] and <sop> apart; records carry them as SPECIAL. */
    static int expectedSegment(JsonNode segments, String field) {
        if (field.equals("special")) return segments.get("gmask").asInt() + segments.get("sop").asInt();
        return segments.has(field) ? segments.get(field).asInt() : 0;
    }

    @Test
    void idsAndSegmentLengthsOfBothParts() {
        LayoutTokenizer tok = model.tokenizer();
        assertEquals(0, tok.bosLength());
        for (Sample sample : fixture.samples().values()) {
            for (ConditionSpec c : fixture.conditions(sample.getId())) {
                JsonNode e = fixture.expected(sample.getId(), c.getName());
                String where = sample.getId() + "/" + c.getName();
                SequenceLayout layout = tok.layout(SegmentTexts.of(c, sample));
                int prompt = layout.end(Segment.SPECIAL);
                assertArrayEquals(ints(e.get("prompt_ids")), layout.ids(0, prompt), where + " prompt ids");
                assertArrayEquals(ints(e.get("continuation_ids")), layout.ids(prompt, layout.size()), where + " continuation ids");
                for (Segment s : Segment.values()) {
                    assertEquals(expectedSegment(e.get("segments"), s.field()), layout.length(s), where + " " + s);
                }
            }
        }
    }

    /** The forwards each condition asks for, seen through a recording model; one condition per call. */
    @Test
    void positionsOfThePrefillTheCacheAndTheContinuation() {
        int checked = 0;
        for (Sample sample : fixture.samples().values()) {
            for (ConditionSpec c : fixture.conditions(sample.getId())) {
                JsonNode e = fixture.expected(sample.getId(), c.getName());
                String where = sample.getId() + "/" + c.getName();
                int[] promptIds = ints(e.get("prompt_ids"));
                int[] continuationIds = ints(e.get("continuation_ids"));
                for (ScoreOptions options : List.of(ScoreOptions.defaults(), ScoreOptions.defaults().withSharing(false))) {
                    RecordingPrefixLm recording = new RecordingPrefixLm(model);
                    new SampleScorer(recording).score(sample, List.of(c), options);
                    // without sharing, a bare condition's prompt runs twice: as the K/V check's reference and its own
                    List<ForwardRequest> prefills = recording.requests.stream()
                            .filter(r -> r.past().isEmpty() && java.util.Arrays.equals(r.ids(), promptIds)).toList();
                    assertTrue(!prefills.isEmpty(), where + ": no prefill of the prompt");
                    for (ForwardRequest p : prefills) assertEquals(positions(e.get("prefill_positions")), p.positions(), where + " prefill");
                    ForwardRequest continuation = recording.only(r -> !r.past().isEmpty(), where);
                    assertArrayEquals(continuationIds, continuation.ids(), where);
                    assertEquals(positions(e.get("cache_positions")), continuation.past().positions(), where + " cache");
                    assertEquals(positions(e.get("continuation_positions")), continuation.positions(), where + " continuation");
                    JsonNode sum = e.get("document_keys_layer0_checksum");
                    int dropped = c.getPlacement() == Placement.PREFIX_TRUNCATED ? e.get("segments").get("prefix").asInt() : 0;
                    double[] mine = recording.layer0KeyChecksum(continuation, e.get("segments").get("prefix").asInt() - dropped,
                            e.get("segments").get("document").asInt());
                    for (int k = 0; k < 3; k++) {
                        double expected = sum.get(new String[] {"sum", "abs_sum", "weighted_sum"}[k]).asDouble();
                        assertEquals(expected, mine[k], 1e-3 + 1e-6 * Math.abs(expected), where + " layer-0 document key checksum " + k);
                    }
                }
                checked++;
            }
        }
        assertEquals(fixture.json().get("expected").size(), checked);
    }

    @Test
    void inverseFrequenciesAreTheFp16RoundedOnesTheCheckpointStores() {
        JsonNode expected = fixture.json().get("inv_freq");
        Rope half = model.rope(0);
        assertEquals(2 * expected.size(), half.headDim());
        float[] stored;
        try (var _ = dkv.scorers.torch.TensorScope.open();
             var loader = new dkv.scorers.model.WeightLoader(ModelSnapshot.open(fixture.dir()).weights(), Device.cpu(), DType.FLOAT32)) {
            stored = Tensors.toFloatArray(loader.load("transformer.layers.0.attention.rotary_emb.inv_freq", expected.size()));
        }
        float[] mine = new dkv.scorers.model.glm.GlmConfig("chatglm", List.of(), 576, 64, 96, 3, 4, 1e-5, 512, 177, 180, 181, 176)
                .inverseFrequencies();
        for (int j = 0; j < expected.size(); j++) {
            assertEquals((float) expected.get(j).asDouble(), mine[j], 0f, "inv_freq " + j);
            assertEquals(stored[j], mine[j], 0f, "stored inv_freq " + j);
        }
        assertEquals(fixture.json().get("alpha").asDouble(), dkv.scorers.model.glm.GlmConfig.ALPHA, 1e-15);
        assertEquals(16, model.rope2D().headDim());
    }

    // ------------------------------------------------------------------------------------------ helpers

    static int[] ints(JsonNode array) {
        return IntStream.range(0, array.size()).map(i -> array.get(i).asInt()).toArray();
    }

    static long[] longs(JsonNode array) {
        return IntStream.range(0, array.size()).mapToLong(i -> array.get(i).asLong()).toArray();
    }

    static Positions positions(JsonNode twoChannels) {
        return Positions.twoD(longs(twoChannels.get(0)), longs(twoChannels.get(1)));
    }

    /** A PrefixLm that forwards to the real model and keeps every request, and each continuation's layer-0 past keys. */
    static final class RecordingPrefixLm implements PrefixLm {
        final PrefixLm inner;
        final List<ForwardRequest> requests = new ArrayList<>();
        final Map<ForwardRequest, float[]> layer0PastKeys = new java.util.IdentityHashMap<>();

        RecordingPrefixLm(PrefixLm inner) {
            this.inner = inner;
        }

        ForwardRequest only(java.util.function.Predicate<ForwardRequest> which, String where) {
            List<ForwardRequest> found = requests.stream().filter(which).toList();
            assertEquals(1, found.size(), where + ": matching forwards among " + requests.size());
            return found.getFirst();
        }

        /**
         * sum, |sum| and weighted sum (weights 1 + i mod 7) of the layer-0 keys of past entries [from, from + count)
         * of a continuation, flattened [token][head][dim] as the fixture's checksum.
         */
        double[] layer0KeyChecksum(ForwardRequest continuation, int from, int count) {
            float[] keys = layer0PastKeys.get(continuation);
            assertNotNull(keys, "no past keys recorded");
            int width = keys.length / continuation.past().length();
            double[] out = new double[3];
            for (int i = 0; i < count * width; i++) {
                double v = keys[from * width + i];
                out[0] += v;
                out[1] += Math.abs(v);
                out[2] += v * (i % 7 + 1);
            }
            return out;
        }

        @Override
        public List<ForwardResult> forwardBatch(List<ForwardRequest> rows) {
            requests.addAll(rows);
            for (ForwardRequest r : rows) {
                if (r.past().isEmpty()) continue;
                try (var _ = dkv.scorers.torch.TensorScope.open()) {
                    // [1, heads, T, d] -> [T, heads, d]
                    layer0PastKeys.put(r, Tensors.toFloatArray(Ops.contiguous(Ops.permute(Ops.select(r.past().keys(0), 0, 0), 1, 0, 2))));
                }
            }
            return inner.forwardBatch(rows);
        }

        @Override
        public Rope2D rope2D() {
            return inner.rope2D();
        }

        @Override
        public int layers() {
            return inner.layers();
        }

        @Override
        public Rope rope(int layer) {
            return inner.rope(layer);
        }

        @Override
        public String family() {
            return inner.family();
        }

        @Override
        public ModelSnapshot snapshot() {
            return inner.snapshot();
        }

        @Override
        public LayoutTokenizer tokenizer() {
            return inner.tokenizer();
        }

        @Override
        public Device device() {
            return inner.device();
        }

        @Override
        public DType dtype() {
            return inner.dtype();
        }

        @Override
        public void close() {
        }
    }
}
