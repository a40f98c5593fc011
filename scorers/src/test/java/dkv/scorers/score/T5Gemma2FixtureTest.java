package dkv.scorers.score;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dkv.avro.ConditionSpec;
import dkv.avro.CrossMask;
import dkv.avro.LayerShares;
import dkv.avro.Placement;
import dkv.avro.Sample;
import dkv.avro.ScoreRecord;
import dkv.avro.SegmentShares;
import dkv.schemas.SegmentFields;
import dkv.scorers.fixtures.ReferenceFixture;
import dkv.scorers.model.EncoderMemory;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.model.LayoutTokenizer;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.model.ModelSnapshot;
import dkv.scorers.model.PrefixSharing;
import dkv.scorers.model.Seq2SeqLm;
import dkv.scorers.recipe.UnsupportedConditionException;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * T5Gemma 2 (ops/reference/t5gemma2_fixtures.py: every feature on, both weight layouts) under NONE, ENCODER_COENCODE and
 * ENCODER_COENCODE_MASKED (exact prefix, research off-by-one, empty prefix, EOI token, query template) against HF,
 * float32 on CPU within 1e-4: NLLs, token log-probs, both streams' segment counts, self and cross attention shares.
 * Plus the encoder-decoder invariants: masked and unmasked conditions share one encoder pass, hiding nothing equals
 * the bare condition, hidden tokens get no attention, the merged softmax's two parts sum to 1, and decoder results do
 * not depend on the batching.
 */
class T5Gemma2FixtureTest {

    static final double TOLERANCE = 1e-4;

    @ParameterizedTest
    @ValueSource(strings = {"t5gemma2", "t5gemma2_textmodel"})
    void sharedEncoderPassesAndBatchedDecodersMatchHf(String name) {
        check(name, ScoreOptions.defaults(), false);
    }

    @ParameterizedTest
    @ValueSource(strings = {"t5gemma2", "t5gemma2_textmodel"})
    void oneDecoderAtATimeMatchesHf(String name) {
        check(name, ScoreOptions.defaults().withMaxBatch(1), false);
    }

    @ParameterizedTest
    @ValueSource(strings = {"t5gemma2", "t5gemma2_textmodel"})
    void allSamplesInOneCallMatchHf(String name) {
        check(name, ScoreOptions.defaults(), true);
    }

    static List<List<ScoreRecord>> score(SampleScorer scorer, FixtureFile f, ScoreOptions options, boolean allAtOnce) {
        List<Sample> samples = List.copyOf(f.samples().values());
        return allAtOnce
                ? scorer.scoreAll(samples.stream().map(s -> new SampleScorer.SampleWork(s, f.conditions(s.getId()))).toList(), options)
                : samples.stream().map(s -> scorer.score(s, f.conditions(s.getId()), options)).toList();
    }

    static void check(String name, ScoreOptions options, boolean allAtOnce) {
        FixtureFile f = ReferenceFixture.load(name);
        List<Sample> samples = List.copyOf(f.samples().values());
        int compared = 0;
        double nll = 0;
        double token = 0;
        double share = 0;
        try (Seq2SeqLm model = load(name)) {
            List<List<ScoreRecord>> scored = score(new SampleScorer(model), f, options, allAtOnce);
            for (int s = 0; s < samples.size(); s++) {
                for (FixtureComparison.Deviation d : FixtureComparison.compare(f, samples.get(s).getId(), scored.get(s))) {
                    String where = name + " " + d.where();
                    assertEquals(List.of(), d.mismatches(), where);
                    assertTrue(d.nllMean() <= TOLERANCE, where + " |Δ nll_mean| " + d.nllMean());
                    assertTrue(d.nllSum() <= TOLERANCE * 12, where + " |Δ nll_sum| " + d.nllSum());
                    assertTrue(d.tokenLogprob() <= TOLERANCE, where + " |Δ token logprob| " + d.tokenLogprob());
                    assertTrue(d.attentionShare() <= TOLERANCE, where + " |Δ attention share| " + d.attentionShare());
                    nll = Math.max(nll, d.nllMean());
                    token = Math.max(token, d.tokenLogprob());
                    share = Math.max(share, d.attentionShare());
                    compared++;
                }
            }
        }
        assertEquals(f.json().get("expected").size(), compared, "every expected record compared");
        System.out.printf(Locale.ROOT, "%s (batch %d, all at once %b): max |Δ nll_mean| %.3g, |Δ token logprob| %.3g, |Δ share| %.3g%n",
                name, options.maxBatch(), allAtOnce, nll, token, share);
    }

    static Seq2SeqLm load(String name) {
        return (Seq2SeqLm) ModelFamilies.load(ReferenceFixture.load(name).dir(), Device.cpu(), DType.FLOAT32);
    }

    /**
     * The co-encode conditions of a surrogate (unmasked, masked, off-by-one) and a masked condition with an empty prefix
     * and the bare one read one encoder pass: a call over all samples encodes exactly the distinct encoder inputs
     * (HF's reference run counted the same 12), in one batch.
     */
    @Test
    void maskedAndUnmaskedConditionsShareOneEncoderPass() {
        FixtureFile f = ReferenceFixture.load("t5gemma2");
        Set<List<Integer>> distinct = new HashSet<>();
        for (JsonNode e : f.json().get("expected")) {
            List<Integer> ids = IntStream.range(0, e.get("encoder_ids").size()).mapToObj(i -> e.get("encoder_ids").get(i).asInt()).toList();
            distinct.add(ids);
        }
        assertEquals(f.json().get("checks").get("encoder_passes").asInt(), distinct.size());
        try (CountingSeq2Seq model = new CountingSeq2Seq(load("t5gemma2"))) {
            List<List<ScoreRecord>> records = score(new SampleScorer(model), f, ScoreOptions.defaults(), true);
            assertEquals(distinct.size(), model.inputs, "encoder passes");
            assertEquals(1, model.calls, "one batch of encoder inputs");
            assertEquals(f.json().get("expected").size(), records.stream().mapToInt(List::size).sum());
        }
    }

    /**
     * Hiding an empty prefix hides nothing: the masked condition equals the bare one bit for bit, whichever mask variant
     * (all on the same attention path and batch shape, which decide the rounding).
     */
    @Test
    void maskingNothingEqualsUnmasked() {
        FixtureFile f = ReferenceFixture.load("t5gemma2");
        Sample s = f.samples().get("s2");
        ConditionSpec bare = ConditionSpec.newBuilder(condition(f, "s2", "bare")).setCaptureAttention(false).build();
        ConditionSpec empty = condition(f, "s2", "coencode_masked_empty");
        ConditionSpec emptyOffByOne = ConditionSpec.newBuilder(empty).setName("empty_offbyone")
                .setCrossMask(CrossMask.RESEARCH_OFF_BY_ONE).build();
        ConditionSpec unmaskedEmpty = ConditionSpec.newBuilder(empty).setName("unmasked_empty")
                .setPlacement(Placement.ENCODER_COENCODE).build();
        // a plan's co-encode condition without a surrogate is the bare encoder, whatever its separator
        ConditionSpec noSurrogate = ConditionSpec.newBuilder(empty).setName("no_surrogate")
                .setPlacement(Placement.ENCODER_COENCODE).setSurrogate(null).setSeparator("\n").build();
        try (Seq2SeqLm model = load("t5gemma2")) {
            // one decoder per forward: rows of one CPU batch may round differently by their place in the GEMM
            List<ScoreRecord> r = new SampleScorer(model).score(s, List.of(bare, empty, emptyOffByOne, unmaskedEmpty, noSurrogate),
                    ScoreOptions.defaults().withMaxBatch(1));
            for (int i = 1; i < r.size(); i++) {
                assertEquals(r.get(0).getEncoderSegments(), r.get(i).getEncoderSegments(), r.get(i).getCondition());
                assertEquals(r.get(0).getTokenLogprobs(), r.get(i).getTokenLogprobs(), r.get(i).getCondition());
                assertEquals(r.get(0).getNllMean(), r.get(i).getNllMean(), 0.0, r.get(i).getCondition());
            }
        }
    }

    /**
     * Hidden prefix tokens get exactly zero cross attention in every layer, visible ones some; per source row the self
     * shares and the cross shares add up to one (one softmax over [self ; cross]); no document check is recorded.
     */
    @Test
    void hiddenTokensGetNoAttentionAndTheMergedSoftmaxSumsToOne() {
        FixtureFile f = ReferenceFixture.load("t5gemma2");
        Sample s = f.samples().get("s1");
        List<ConditionSpec> conditions = List.of(condition(f, "s1", "coencode"), condition(f, "s1", "coencode_masked"),
                condition(f, "s1", "coencode_masked_query"));
        try (Seq2SeqLm model = load("t5gemma2")) {
            List<ScoreRecord> r = new SampleScorer(model).score(s, conditions, ScoreOptions.defaults());
            for (ScoreRecord record : r) {
                assertNull(record.getDocumentKvMaxAbsDelta());
                assertTrue(record.getEncoderSegments().getPrefix() > 0);
                boolean masked = !record.getCondition().equals("coencode");
                for (int l = 0; l < record.getAttention().getLayers().size(); l++) {
                    LayerShares self = record.getAttention().getLayers().get(l);
                    LayerShares cross = record.getAttention().getCrossLayers().get(l);
                    assertEquals(1.0, total(self.getFromAnswer()) + total(cross.getFromAnswer()), 1e-5);
                    if (self.getFromQuery() != null) assertEquals(1.0, total(self.getFromQuery()) + total(cross.getFromQuery()), 1e-5);
                    if (masked) assertEquals(0.0f, cross.getFromAnswer().getPrefix(), record.getCondition() + " layer " + l);
                    else assertTrue(cross.getFromAnswer().getPrefix() > 0);
                    assertTrue(cross.getFromAnswer().getBos() > 0 && cross.getFromAnswer().getDocument() > 0);
                }
            }
        }
    }

    /** Decoders of ragged lengths against ragged memories, batched or one at a time, give the same log-probs. */
    @Test
    void decoderResultsAreBatchInvariant() {
        FixtureFile f = ReferenceFixture.load("t5gemma2");
        try (Seq2SeqLm model = load("t5gemma2")) {
            SampleScorer scorer = new SampleScorer(model);
            List<List<ScoreRecord>> one = score(scorer, f, ScoreOptions.defaults().withMaxBatch(1), true);
            for (ScoreOptions options : List.of(ScoreOptions.defaults().withMaxBatch(64), ScoreOptions.defaults().withMaxTokens(40))) {
                List<List<ScoreRecord>> batched = score(scorer, f, options, true);
                for (int s = 0; s < one.size(); s++) {
                    for (int c = 0; c < one.get(s).size(); c++) {
                        List<Float> a = one.get(s).get(c).getTokenLogprobs();
                        List<Float> b = batched.get(s).get(c).getTokenLogprobs();
                        for (int i = 0; i < a.size(); i++) {
                            assertEquals(a.get(i), b.get(i), 1e-5, one.get(s).get(c).getCondition() + " token " + i);
                        }
                    }
                }
            }
        }
    }

    @Test
    void decoderOnlyPlacementsAreRefusedByName() {
        FixtureFile f = ReferenceFixture.load("t5gemma2");
        ConditionSpec truncated = ConditionSpec.newBuilder(condition(f, "s1", "coencode")).setName("trunc")
                .setPlacement(Placement.PREFIX_TRUNCATED).build();
        try (Seq2SeqLm model = load("t5gemma2")) {
            var e = assertThrows(UnsupportedConditionException.class,
                    () -> new SampleScorer(model).score(f.samples().get("s1"), List.of(truncated), ScoreOptions.defaults()));
            assertTrue(e.getMessage().contains("PREFIX_TRUNCATED") && e.getMessage().contains("t5gemma2")
                    && e.getMessage().contains("ENCODER_COENCODE_MASKED"), e.getMessage());
        }
    }

    @Test
    void anImageTokenInASurrogateFailsNamingTheConfigField() {
        FixtureFile f = ReferenceFixture.load("t5gemma2");
        ConditionSpec image = ConditionSpec.newBuilder(condition(f, "s1", "coencode")).setName("image")
                .setSurrogate("a picture <image_soft_token> of water").build();
        try (Seq2SeqLm model = load("t5gemma2")) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> new SampleScorer(model).score(f.samples().get("s1"), List.of(image), ScoreOptions.defaults()));
            assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("image_token_index"), e.getMessage());
        }
    }

    static ConditionSpec condition(FixtureFile f, String sample, String name) {
        return f.conditions(sample).stream().filter(c -> c.getName().equals(name)).findFirst().orElseThrow();
    }

    static double total(SegmentShares s) {
        double sum = 0;
        for (String field : SegmentFields.shareFields()) sum += SegmentFields.share(s, field);
        return sum;
    }

    /** A T5Gemma 2 that counts its encoder calls and inputs. */
    static final class CountingSeq2Seq implements Seq2SeqLm {
        final Seq2SeqLm inner;
        int calls;
        int inputs;

        CountingSeq2Seq(Seq2SeqLm inner) {
            this.inner = inner;
        }

        @Override
        public List<EncoderMemory> encode(List<int[]> in) {
            calls++;
            inputs += in.size();
            return inner.encode(in);
        }

        @Override
        public int decoderStartToken() {
            return inner.decoderStartToken();
        }

        @Override
        public List<ForwardResult> forwardBatch(List<ForwardRequest> requests) {
            return inner.forwardBatch(requests);
        }

        @Override
        public PrefixSharing prefixSharing() {
            return inner.prefixSharing();
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
            inner.close();
        }
    }
}
