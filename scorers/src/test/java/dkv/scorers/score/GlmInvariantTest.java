package dkv.scorers.score;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dkv.avro.ConditionSpec;
import dkv.avro.Placement;
import dkv.avro.RopeCorrection;
import dkv.avro.Sample;
import dkv.avro.ScoreRecord;
import dkv.scorers.fixtures.ReferenceFixture;
import dkv.scorers.model.AttentionMask;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.model.KvCache;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.model.Positions;
import dkv.scorers.model.PrefixLm;
import dkv.scorers.recipe.Segment;
import dkv.scorers.recipe.SegmentTexts;
import dkv.scorers.recipe.SequenceLayout;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The prefix-LM invariants of DESIGN.md on the random GLM fixture model, computed in Java (the forwards built here,
 * not by the scorer, except where the scorer's own path is the subject): a suffix inside the bidirectional region
 * changes the document's K/V from layer 1 on (the opposite of a causal model); truncation with an empty prefix is
 * bare; prefill + continuation is one forward with the prefix-LM mask; the continuation is causal inside itself; a
 * batch of continuations equals its rows run alone; HALF_SPLIT truncation restores the layer-0 keys of the kept ids.
 */
class GlmInvariantTest {

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

    static ConditionSpec condition(String sampleId, String name) {
        return fixture.conditions(sampleId).stream().filter(c -> c.getName().equals(name)).findFirst().orElseThrow();
    }

    static SequenceLayout layout(Sample sample, ConditionSpec c) {
        return model.tokenizer().layout(SegmentTexts.of(c, sample));
    }

    static ForwardResult prefill(SequenceLayout layout) {
        return model.forward(PromptLayout.prefill(layout.ids(0, layout.end(Segment.SPECIAL))));
    }

    @Test
    void aSuffixChangesTheDocumentKeysAndValuesFromLayerOneOn() {
        for (Sample sample : fixture.samples().values()) {
            SequenceLayout bare = layout(sample, condition(sample.getId(), "bare"));
            for (String name : List.of("suffix", "bare_padded")) {
                SequenceLayout withSuffix = layout(sample, condition(sample.getId(), name));
                assertArrayEquals(bare.ids(Segment.DOCUMENT), withSuffix.ids(Segment.DOCUMENT), "same document pieces");
                JsonNode expected = fixture.json().get("invariants").get(sample.getId()).get(name + "_doc_kv_delta_by_layer");
                int doc = bare.length(Segment.DOCUMENT);
                try (TensorScope _ = TensorScope.open()) {
                    KvCache a = prefill(bare).cache();
                    KvCache b = prefill(withSuffix).cache();
                    for (int l = 0; l < model.layers(); l++) {
                        double delta = Math.max(
                                DocumentKvCheck.maxAbsDiff(Ops.narrow(a.keys(l), 2, 0, doc), Ops.narrow(b.keys(l), 2, 0, doc)),
                                DocumentKvCheck.maxAbsDiff(Ops.narrow(a.values(l), 2, 0, doc), Ops.narrow(b.values(l), 2, 0, doc)));
                        String where = sample.getId() + "/" + name + " layer " + l;
                        // layer 0: a key or value depends on its token and position only (equal up to GEMM blocking)
                        if (l == 0) assertTrue(delta < 1e-5, where + ": " + delta);
                        else assertTrue(delta > 0.1, where + " must change, changed " + delta);
                        assertEquals(expected.get(l).asDouble(), delta, 1e-4, where + " against the reference");
                    }
                }
            }
        }
    }

    @Test
    void truncationWithAnEmptyPrefixIsBare() {
        for (Sample sample : fixture.samples().values()) {
            List<ConditionSpec> conditions = List.of(condition(sample.getId(), "bare"), condition(sample.getId(), "trunc_empty"));
            // one at a time the two run the same kernels on the same inputs: bit for bit; as two rows of one batch,
            // equal up to float32 rounding
            for (ScoreOptions options : List.of(ScoreOptions.defaults().withSharing(false).withMaxBatch(1), ScoreOptions.defaults())) {
                List<ScoreRecord> r = new SampleScorer(model).score(sample, conditions, options);
                assertEquals(0, r.get(1).getSegments().getPrefix());
                float tolerance = options.maxBatch() == 1 ? 0f : 1e-5f;
                for (int i = 0; i < r.get(0).getAnswerTokens(); i++) {
                    assertEquals(r.get(0).getTokenLogprobs().get(i), r.get(1).getTokenLogprobs().get(i), tolerance, sample.getId() + " " + options);
                }
                assertEquals(0.0, r.get(1).getDocumentKvMaxAbsDelta(), sample.getId());
            }
        }
    }

    /** The prompt's {@code <sop>} row and the continuation's rows equal the rows of one forward over the whole stream. */
    @Test
    void prefillPlusContinuationIsOneForwardWithThePrefixLmMask() {
        for (Sample sample : fixture.samples().values()) {
            for (String name : List.of("bare", "suffix", "full", "bare_qf")) {
                SequenceLayout layout = layout(sample, condition(sample.getId(), name));
                int prompt = layout.end(Segment.SPECIAL);
                int text = layout.start(Segment.SPECIAL);
                int total = layout.size();
                try (TensorScope _ = TensorScope.open()) {
                    ForwardResult first = prefill(layout);
                    ForwardRequest rest = PromptLayout.continuation(layout.ids(prompt, total), first.cache(), text, 0, total - prompt - 1, false);
                    ForwardResult second = model.forward(rest);
                    float[] split = Tensors.toFloatArray(Ops.cat(0, first.logits(), second.logits()));
                    ForwardRequest head = PromptLayout.prefill(layout.ids(0, prompt));
                    ForwardRequest whole = new ForwardRequest(layout.ids(), head.positions().concat(rest.positions()), KvCache.empty(),
                            AttentionMask.prefixLm(text + 1), prompt - 1, total - 1, false, null);
                    float[] one = Tensors.toFloatArray(model.forward(whole).logits());
                    assertArrayEquals(one, split, 1e-4f, sample.getId() + "/" + name);
                }
            }
        }
    }

    /**
     * QUERY then ANSWER as two chunks equals one chunk (causal inside it); a continuation without the causal mask (the
     * research's, which passed no mask with a past) gives the reference's other NLL.
     */
    @Test
    void theContinuationIsCausalInsideItself() {
        for (Sample sample : fixture.samples().values()) {
            SequenceLayout layout = layout(sample, condition(sample.getId(), "bare"));
            int prompt = layout.end(Segment.SPECIAL);
            int text = layout.start(Segment.SPECIAL);
            int query = layout.length(Segment.QUERY);
            int total = layout.size();
            int[] answerIds = layout.ids(Segment.ANSWER);
            try (TensorScope _ = TensorScope.open()) {
                ForwardResult first = prefill(layout);
                ForwardRequest one = PromptLayout.continuation(layout.ids(prompt, total), first.cache(), text, query - 1, total - prompt - 1, false);
                float[] whole = Tensors.toFloatArray(model.forward(one).logits());
                ForwardResult q = model.forward(PromptLayout.continuation(layout.ids(prompt, prompt + query), first.cache(), text,
                        query - 1, query, false));
                ForwardResult a = model.forward(PromptLayout.continuation(layout.ids(prompt + query, total), q.cache(), text,
                        0, total - prompt - query - 1, false));
                assertArrayEquals(whole, Tensors.toFloatArray(Ops.cat(0, q.logits(), a.logits())), 1e-4f, sample.getId());
                ForwardRequest unmasked = new ForwardRequest(one.ids(), one.positions(), one.past(), AttentionMask.bidirectional(),
                        one.logitsFrom(), one.logitsTo(), false, null);
                double causal = AnswerLogprobs.of(model.forward(one).logits(), answerIds).nllMean();
                double open = AnswerLogprobs.of(model.forward(unmasked).logits(), answerIds).nllMean();
                double research = fixture.json().get("invariants").get(sample.getId()).get("bare_nll_without_causal_continuation_mask").asDouble();
                assertEquals(research, open, 1e-4, sample.getId() + " unmasked continuation against the reference");
                assertTrue(Math.abs(open - causal) > 1e-3, "the continuation mask must matter");
            }
        }
    }

    @Test
    void batchedContinuationsEqualEachRunAlone() {
        Sample sample = fixture.samples().get("s2");
        try (TensorScope _ = TensorScope.open()) {
            List<ForwardRequest> rows = new ArrayList<>();
            for (String name : List.of("bare", "suffix_qf", "full", "bare_padded")) {
                SequenceLayout layout = layout(sample, condition(sample.getId(), name));
                int prompt = layout.end(Segment.SPECIAL);
                int total = layout.size();
                rows.add(PromptLayout.continuation(layout.ids(prompt, total), prefill(layout).cache(), layout.start(Segment.SPECIAL),
                        0, total - prompt, name.equals("full")));
            }
            // a truncated past of another length, at its shifted positions
            SequenceLayout trunc = layout(sample, condition(sample.getId(), "trunc"));
            int p = trunc.length(Segment.PREFIX);
            KvCache kept = prefill(trunc).cache().view(p, trunc.end(Segment.SPECIAL));
            rows.add(PromptLayout.continuation(trunc.ids(trunc.end(Segment.SPECIAL), trunc.size() - 2), kept,
                    trunc.start(Segment.SPECIAL) - p, 1, 3, false));
            List<ForwardResult> batched = model.forwardBatch(rows);
            for (int b = 0; b < rows.size(); b++) {
                ForwardResult alone = model.forward(rows.get(b));
                ForwardResult together = batched.get(b);
                assertArrayEquals(Tensors.toFloatArray(alone.logits()), Tensors.toFloatArray(together.logits()), 1e-5f, "logits of row " + b);
                assertEquals(alone.cache().positions(), together.cache().positions());
                for (int l = 0; l < model.layers(); l++) {
                    assertEquals(0.0, DocumentKvCheck.maxAbsDiff(alone.cache().keys(l), together.cache().keys(l)), 1e-5, "keys " + b + "/" + l);
                    assertEquals(0.0, DocumentKvCheck.maxAbsDiff(alone.cache().values(l), together.cache().values(l)), 1e-5, "values " + b + "/" + l);
                }
                if (rows.get(b).attentionProbs()) {
                    for (int l = 0; l < model.layers(); l++) {
                        assertArrayEquals(Tensors.toFloatArray(alone.attention().get(l)), Tensors.toFloatArray(together.attention().get(l)),
                                1e-5f, "attention " + b + "/" + l);
                    }
                }
            }
        }
    }

    /**
     * The scorer's truncation: with HALF_SPLIT the kept layer-0 keys equal a prefill of the kept ids alone (position
     * channel rotated back by −P), with NONE the position half does not; the block half is untouched either way.
     */
    @Test
    void halfSplitTruncationRestoresTheLayer0KeysOfTheKeptIds() {
        Sample sample = fixture.samples().get("s1");
        for (RopeCorrection correction : List.of(RopeCorrection.HALF_SPLIT, RopeCorrection.NONE)) {
            ConditionSpec c = ConditionSpec.newBuilder(condition("s1", "trunc")).setRopeCorrection(correction).build();
            SequenceLayout layout = layout(sample, c);
            int p = layout.length(Segment.PREFIX);
            GlmFixtureTest.RecordingPrefixLm recording = new GlmFixtureTest.RecordingPrefixLm(model);
            new SampleScorer(recording).score(sample, List.of(c), ScoreOptions.defaults());
            ForwardRequest continuation = recording.requests.stream().filter(r -> !r.past().isEmpty()).findFirst().orElseThrow();
            float[] truncated = recording.layer0PastKeys.get(continuation);
            float[] alone;
            try (TensorScope _ = TensorScope.open()) {
                Tensor k = prefill(new SequenceLayout(layout.ids(p, layout.end(Segment.SPECIAL)),
                        lengths(layout.length(Segment.DOCUMENT), 2))).cache().keys(0);
                alone = Tensors.toFloatArray(Ops.contiguous(Ops.permute(Ops.select(k, 0, 0), 1, 0, 2)));
            }
            int d = model.rope2D().headDim();
            double positionHalf = 0;
            double blockHalf = 0;
            for (int i = 0; i < alone.length; i++) {
                double diff = Math.abs(alone[i] - truncated[i]);
                if (i % d < d / 2) positionHalf = Math.max(positionHalf, diff);
                else blockHalf = Math.max(blockHalf, diff);
            }
            assertTrue(blockHalf < 1e-5, correction + " block half " + blockHalf);
            if (correction == RopeCorrection.HALF_SPLIT) assertTrue(positionHalf < 1e-4, "HALF_SPLIT position half " + positionHalf);
            else assertTrue(positionHalf > 1e-2, "NONE keeps the old rotation, differs by " + positionHalf);
        }
    }

    static int[] lengths(int document, int special) {
        int[] l = new int[Segment.values().length];
        l[Segment.DOCUMENT.ordinal()] = document;
        l[Segment.SPECIAL.ordinal()] = special;
        return l;
    }

    /** One prefill per distinct prompt TEXT (the bare one included), one continuation per condition. */
    @Test
    void eachDistinctPromptIsPrefilledOnceAndEveryConditionContinuesIt() {
        Sample sample = fixture.samples().get("s1");
        List<ConditionSpec> conditions = fixture.conditions("s1");
        long prompts = conditions.stream().map(c -> Arrays.toString(Arrays.copyOf(layout(sample, c).ids(),
                layout(sample, c).end(Segment.SPECIAL)))).distinct().count();
        SampleScorer scorer = new SampleScorer(model);
        ForwardProfile profile = new ForwardProfile(dkv.scorers.torch.TorchRuntime.get());
        scorer.profile(profile);
        scorer.score(sample, conditions, ScoreOptions.defaults());
        scorer.profile(null);
        assertEquals(5, prompts, "bare (= bare_qf = trunc_empty), suffix (= suffix_qf), full (= trunc, trunc_uncorrected), trunc_space, bare_padded");
        assertEquals(Map.of("prefill", prompts, "continuation", (long) conditions.size()), profile.rowsByKind());
    }

    @Test
    void scoringLeavesNoTensorHandlesBehind() {
        Sample sample = fixture.samples().get("s3");
        List<ConditionSpec> conditions = new ArrayList<>(fixture.conditions("s3"));
        conditions.add(ConditionSpec.newBuilder(condition("s3", "trunc")).setName("trunc_attention").setCaptureAttention(true).build());
        for (ScoreOptions options : List.of(ScoreOptions.defaults(), ScoreOptions.defaults().withSharing(false))) {
            SampleScorer scorer = new SampleScorer(model);
            scorer.score(sample, conditions, options);
            long before = dkv.scorers.torch.Tensor.liveHandles();
            List<ScoreRecord> r = scorer.score(sample, conditions, options);
            assertEquals(before, dkv.scorers.torch.Tensor.liveHandles(), "tensor handles leaked by scoring a sample, " + options);
            ScoreRecord attention = r.getLast();
            assertEquals(model.layers(), attention.getAttention().getLayers().size());
            var shares = attention.getAttention().getLayers().getFirst().getFromAnswer();
            double visible = shares.getDocument() + shares.getQuery() + shares.getAnswer();
            // the rest went to [gMASK] <sop>, which SegmentShares has no field for; nothing to the dropped prefix
            assertEquals(0.0, shares.getPrefix(), 0.0);
            assertTrue(visible > 0 && visible <= 1 + 1e-5, "shares " + shares);
        }
    }

    @Test
    void placementsAreTheOnesOfThePrefixLmLayout() {
        Sample sample = fixture.samples().get("s1");
        ConditionSpec interleaved = ConditionSpec.newBuilder(condition("s1", "trunc")).setRopeCorrection(RopeCorrection.INTERLEAVED).build();
        var e = org.junit.jupiter.api.Assertions.assertThrows(dkv.scorers.recipe.UnsupportedConditionException.class,
                () -> new SampleScorer(model).score(sample, List.of(interleaved), ScoreOptions.defaults()));
        assertTrue(e.getMessage().contains("INTERLEAVED") && e.getMessage().contains("'glm'"), e.getMessage());
        ConditionSpec old = ConditionSpec.newBuilder(condition("s1", "suffix")).setPlacement(Placement.PREFIX_LM).build();
        e = org.junit.jupiter.api.Assertions.assertThrows(dkv.scorers.recipe.UnsupportedConditionException.class,
                () -> new SampleScorer(model).score(sample, List.of(old), ScoreOptions.defaults()));
        assertTrue(e.getMessage().contains("placement SUFFIX"), e.getMessage());
    }

    @Test
    void aPromptsPositionsAndMaskFollowThePublishedRules() {
        ForwardRequest prompt = PromptLayout.prefill(new int[] {7, 8, 177, 180});
        assertEquals(Positions.twoD(new long[] {0, 1, 2, 2}, new long[] {0, 0, 0, 1}), prompt.positions());
        assertEquals(AttentionMask.prefixLm(3), prompt.mask());
        assertEquals(3, prompt.logitsFrom());
        assertEquals(4, prompt.logitsTo());
        try (TensorScope _ = TensorScope.open()) {
            KvCache past = model.forward(prompt).cache();
            ForwardRequest next = PromptLayout.continuation(new int[] {9, 10}, past.view(1, 4), 1, 0, 2, false);
            assertEquals(Positions.twoD(new long[] {1, 1}, new long[] {2, 3}), next.positions());
            assertEquals(AttentionMask.causal(), next.mask());
            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> model.forward(
                    new ForwardRequest(new int[] {7, 8}, new long[] {0, 1}, KvCache.empty(), AttentionMask.causal(), 0, 1, false)));
            assertTrue(e.getMessage().contains("2D positions") && e.getMessage().contains("glm"), e.getMessage());
        }
    }
}
