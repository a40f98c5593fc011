package dkv.scorers.score;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.ConditionSpec;
import dkv.avro.Placement;
import dkv.avro.RopeCorrection;
import dkv.avro.Sample;
import dkv.avro.ScoreRecord;
import dkv.scorers.fixtures.ReferenceFixture;
import dkv.scorers.model.AttentionMask;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.model.KvCache;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.recipe.Segment;
import dkv.scorers.recipe.SegmentTexts;
import dkv.scorers.recipe.SequenceLayout;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The cache invariants (docs/architecture.md "Invariants the tests pin") on random weights (the Llama fixture model), with texts other than the
 * fixtures' and every condition forced through its own full forward (no shared prefill), so nothing holds
 * by construction.
 */
class CacheInvariantTest {

    static CausalLm model;
    static final Sample SAMPLE = Sample.newBuilder().setId("inv").setDataset("test")
            .setQuery("why is the sky blue")
            .setPassage("Sunlight is scattered by the molecules of the air. Blue light is scattered more than red light "
                    + "because it travels as shorter waves, so the sky looks blue for most of the day.")
            .setAnswer("shorter waves are scattered more").build();
    static final String SURROGATE = "what makes the sky look blue in the day";

    @BeforeAll
    static void load() {
        model = ModelFamilies.loadCausal(ReferenceFixture.load("llama").dir(), Device.cpu(), DType.FLOAT32);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    static ConditionSpec spec(String name, Placement p, String surrogate, String separator, RopeCorrection c) {
        return ConditionSpec.newBuilder().setName(name).setPlacement(p).setSurrogate(surrogate).setSeparator(separator)
                .setRopeCorrection(c).build();
    }

    static Map<String, ScoreRecord> score(List<ConditionSpec> conditions) {
        return new SampleScorer(model).score(SAMPLE, conditions, ScoreOptions.defaults().withSharing(false)).stream()
                .collect(Collectors.toMap(ScoreRecord::getCondition, Function.identity()));
    }

    @Test
    void correctedTruncationRestoresTheBareLayer0KeysAndInterleavedBreaksThem() {
        Map<String, ScoreRecord> r = score(List.of(
                spec("half", Placement.PREFIX_TRUNCATED, SURROGATE, "\n", RopeCorrection.HALF_SPLIT),
                spec("interleaved", Placement.PREFIX_TRUNCATED, SURROGATE, "\n", RopeCorrection.INTERLEAVED),
                spec("uncorrected", Placement.PREFIX_TRUNCATED, SURROGATE, "\n", RopeCorrection.NONE)));
        assertTrue(r.get("half").getDocumentKvMaxAbsDelta() < 1e-4, "half-split: " + r.get("half").getDocumentKvMaxAbsDelta());
        assertTrue(r.get("interleaved").getDocumentKvMaxAbsDelta() > 0.1, "interleaved: " + r.get("interleaved").getDocumentKvMaxAbsDelta());
        assertTrue(r.get("uncorrected").getDocumentKvMaxAbsDelta() > 0.1, "uncorrected: " + r.get("uncorrected").getDocumentKvMaxAbsDelta());
        assertTrue(Math.abs(r.get("half").getNllMean() - r.get("interleaved").getNllMean()) > 1e-3,
                "the pairing bug should move the NLL");
    }

    @Test
    void suffixLeavesDocumentKeysAndValuesUnchanged() {
        ConditionSpec suffix = spec("suffix", Placement.SUFFIX, SURROGATE, "\n", RopeCorrection.HALF_SPLIT);
        assertEquals(0.0, score(List.of(suffix)).get("suffix").getDocumentKvMaxAbsDelta());
        SequenceLayout layout = model.tokenizer().layout(SegmentTexts.of(suffix, SAMPLE));
        int[] bare = model.tokenizer().encode(SAMPLE.getPassage());
        int docEnd = layout.end(Segment.DOCUMENT);
        assertArrayEquals(bare, layout.ids(0, docEnd));
        try (TensorScope _ = TensorScope.open();
             ForwardResult withSuffix = forward(layout.ids());
             ForwardResult alone = forward(bare)) {
            for (int l = 0; l < withSuffix.cache().layers(); l++) {
                // layer 0 is a per-row function of the ids: bit-identical. Deeper layers attend over sequences of
                // different lengths, which libtorch's kernels block differently: equal up to float32 rounding.
                double tolerance = l == 0 ? 0.0 : 1e-5;
                assertEquals(0.0, DocumentKvCheck.maxAbsDiff(Ops.narrow(withSuffix.cache().keys(l), 2, 0, docEnd), alone.cache().keys(l)),
                        tolerance, "keys of layer " + l);
                assertEquals(0.0, DocumentKvCheck.maxAbsDiff(Ops.narrow(withSuffix.cache().values(l), 2, 0, docEnd), alone.cache().values(l)),
                        tolerance, "values of layer " + l);
            }
        }
    }

    @Test
    void prefixPlacementsWithAnEmptyPrefixEqualBare() {
        Map<String, ScoreRecord> r = score(List.of(
                spec("bare", Placement.NONE, null, "\n", RopeCorrection.HALF_SPLIT),
                spec("empty", Placement.PREFIX_FULL, "", "", RopeCorrection.HALF_SPLIT),
                spec("empty_truncated", Placement.PREFIX_TRUNCATED, "", "", RopeCorrection.HALF_SPLIT)));
        for (String name : List.of("empty", "empty_truncated")) {
            assertEquals(0, r.get(name).getSegments().getPrefix(), name);
            assertEquals(r.get("bare").getNllMean(), r.get(name).getNllMean(), 1e-6, name);
            assertEquals(0.0, r.get(name).getDocumentKvMaxAbsDelta(), 1e-6, name);
        }
    }

    @Test
    void prefixFullKeepsThePrefixVisibleAndShiftsTheDocument() {
        Map<String, ScoreRecord> r = score(List.of(
                spec("bare", Placement.NONE, null, "\n", RopeCorrection.HALF_SPLIT),
                spec("full", Placement.PREFIX_FULL, SURROGATE, "\n", RopeCorrection.HALF_SPLIT)));
        assertTrue(r.get("full").getSegments().getPrefix() > 0);
        assertNotNull(r.get("full").getDocumentKvMaxAbsDelta());
        assertTrue(r.get("full").getDocumentKvMaxAbsDelta() > 0.1, "document keys sit at shifted positions");
    }

    @Test
    void sharingAndBatchingGiveTheSameScoresAsSeparateForwards() {
        List<ConditionSpec> conditions = List.of(
                spec("bare", Placement.NONE, null, "\n", RopeCorrection.HALF_SPLIT),
                spec("suffix", Placement.SUFFIX, SURROGATE, "\n", RopeCorrection.HALF_SPLIT),
                spec("glued", Placement.SUFFIX, "ish", "", RopeCorrection.HALF_SPLIT),
                spec("trunc", Placement.PREFIX_TRUNCATED, SURROGATE, "\n", RopeCorrection.HALF_SPLIT),
                spec("trunc_interleaved", Placement.PREFIX_TRUNCATED, SURROGATE, "\n", RopeCorrection.INTERLEAVED),
                spec("trunc_none", Placement.PREFIX_TRUNCATED, SURROGATE, "\n", RopeCorrection.NONE),
                ConditionSpec.newBuilder(spec("trunc_nobos", Placement.PREFIX_TRUNCATED, SURROGATE, "\n", RopeCorrection.HALF_SPLIT))
                        .setKeepBos(false).build(),
                ConditionSpec.newBuilder(spec("trunc_none_nobos", Placement.PREFIX_TRUNCATED, SURROGATE, "\n", RopeCorrection.NONE))
                        .setKeepBos(false).build(),
                spec("full", Placement.PREFIX_FULL, SURROGATE, "\n", RopeCorrection.HALF_SPLIT),
                spec("trunc_other", Placement.PREFIX_TRUNCATED, "a different surrogate", "\n", RopeCorrection.HALF_SPLIT));
        SampleScorer scorer = new SampleScorer(model);
        List<ScoreRecord> reference = scorer.score(SAMPLE, conditions, ScoreOptions.defaults().withSharing(false).withMaxBatch(1));
        for (ScoreOptions options : List.of(ScoreOptions.defaults(), ScoreOptions.defaults().withMaxBatch(1),
                ScoreOptions.defaults().withSharing(false), ScoreOptions.defaults().withMaxBatch(3))) {
            List<ScoreRecord> scored = scorer.score(SAMPLE, conditions, options);
            for (int i = 0; i < conditions.size(); i++) {
                String what = conditions.get(i).getName() + " " + options;
                assertEquals(reference.get(i).getNllMean(), scored.get(i).getNllMean(), 1e-5, what);
                assertEquals(reference.get(i).getSegments(), scored.get(i).getSegments());
                Double expectedDelta = reference.get(i).getDocumentKvMaxAbsDelta();
                Double delta = scored.get(i).getDocumentKvMaxAbsDelta();
                assertEquals(expectedDelta == null, delta == null, what);
                if (delta != null) assertEquals(expectedDelta, delta, 1e-5, what);
            }
        }
    }

    @Test
    void eachDistinctHeadIsPrefilledOnceAndTheRestAreContinuations() {
        // the benchmark's eight conditions: heads are the bare BOS·DOC, BOS·surrogate·DOC (shared by the two
        // truncations of that surrogate and by PREFIX_FULL) and BOS·static·DOC
        List<ConditionSpec> conditions = ScorerBench.conditions(SURROGATE);
        SampleScorer scorer = new SampleScorer(model);
        ForwardProfile profile = new ForwardProfile(dkv.scorers.torch.TorchRuntime.get());
        scorer.profile(profile);
        scorer.score(SAMPLE, conditions, ScoreOptions.defaults());
        scorer.profile(null);
        assertEquals(Map.of("prefill", 3L, "continuation", (long) conditions.size()), profile.rowsByKind());
        // every condition continues from the end of its document: its head (BOS, prefix, document) was shared
        long continued = 0;
        for (ConditionSpec c : conditions) {
            SequenceLayout layout = model.tokenizer().layout(SegmentTexts.of(c, SAMPLE));
            continued += layout.size() - layout.end(Segment.DOCUMENT);
        }
        assertEquals(continued, profile.tokensByKind().get("continuation"));
    }

    @Test
    void scoringLeavesNoTensorHandlesBehind() {
        List<ConditionSpec> conditions = List.of(
                spec("bare", Placement.NONE, null, "\n", RopeCorrection.HALF_SPLIT),
                spec("trunc", Placement.PREFIX_TRUNCATED, SURROGATE, "\n", RopeCorrection.HALF_SPLIT),
                ConditionSpec.newBuilder(spec("suffix", Placement.SUFFIX, SURROGATE, "\n", RopeCorrection.HALF_SPLIT))
                        .setCaptureAttention(true).build());
        SampleScorer scorer = new SampleScorer(model);
        scorer.score(SAMPLE, conditions, ScoreOptions.defaults());
        long before = dkv.scorers.torch.Tensor.liveHandles();
        scorer.score(SAMPLE, conditions, ScoreOptions.defaults());
        assertEquals(before, dkv.scorers.torch.Tensor.liveHandles(), "tensor handles leaked by scoring a sample");
    }

    @Test
    void customMasksReachTheAttention() {
        int[] ids = model.tokenizer().encode(SAMPLE.getPassage());
        try (TensorScope _ = TensorScope.open()) {
            float[] reference = logits(ids, AttentionMask.causal(), false);
            assertArrayEquals(reference, logits(ids, AttentionMask.prefixLm(1), false), 1e-5f, "a span of one is causal");
            assertArrayEquals(reference, logits(ids, AttentionMask.causal(), true), 1e-5f, "explicit attention path");
            float[] open = logits(ids, AttentionMask.bidirectional(), false);
            double diff = 0;
            for (int i = 0; i < open.length; i++) diff = Math.max(diff, Math.abs(open[i] - reference[i]));
            assertTrue(diff > 1e-2, "a bidirectional mask must change the first rows' logits, changed " + diff);
        }
    }

    static float[] logits(int[] ids, AttentionMask mask, boolean probs) {
        ForwardResult r = model.forward(new ForwardRequest(ids, ForwardRequest.consecutive(0, ids.length), KvCache.empty(),
                mask, 0, 3, probs));
        return Tensors.toFloatArray(r.logits());
    }

    @Test
    void aBatchEqualsItsRowsRunAlone() {
        int[] doc = model.tokenizer().encode(SAMPLE.getPassage());
        int[] other = model.tokenizer().encode("Rayleigh scattering explains it");
        try (TensorScope _ = TensorScope.open()) {
            ForwardResult prefill = forward(doc);
            int[] tail = model.tokenizer().encode("\n\nQuestion: why?\nAnswer: blue");
            int[] tailIds = java.util.Arrays.copyOfRange(tail, 1, tail.length);
            List<ForwardRequest> rows = List.of(
                    new ForwardRequest(tailIds, ForwardRequest.consecutive(doc.length, tailIds.length), prefill.cache(),
                            AttentionMask.causal(), 0, tailIds.length, true),
                    new ForwardRequest(other, ForwardRequest.consecutive(0, other.length), KvCache.empty(),
                            AttentionMask.causal(), other.length - 2, other.length, true),
                    new ForwardRequest(tailIds, ForwardRequest.consecutive(7, tailIds.length), prefill.cache().view(0, 7),
                            AttentionMask.causal(), 1, 2, true));
            List<ForwardResult> batched = model.forwardBatch(rows);
            for (int b = 0; b < rows.size(); b++) {
                ForwardResult alone = model.forward(rows.get(b));
                ForwardResult together = batched.get(b);
                assertArrayEquals(Tensors.toFloatArray(alone.logits()), Tensors.toFloatArray(together.logits()), 1e-4f, "logits of row " + b);
                assertEquals(alone.cache().positions(), together.cache().positions());
                for (int l = 0; l < alone.cache().layers(); l++) {
                    assertEquals(0.0, DocumentKvCheck.maxAbsDiff(alone.cache().keys(l), together.cache().keys(l)), 1e-5, "keys row " + b + " layer " + l);
                    assertEquals(0.0, DocumentKvCheck.maxAbsDiff(alone.cache().values(l), together.cache().values(l)), 1e-5, "values row " + b + " layer " + l);
                    assertArrayEquals(Tensors.toFloatArray(alone.attention().get(l)), Tensors.toFloatArray(together.attention().get(l)),
                            1e-5f, "attention row " + b + " layer " + l);
                }
            }
        }
    }

    @Test
    void kvCacheViewsShareStorage() {
        try (TensorScope _ = TensorScope.open(); ForwardResult r = forward(model.tokenizer().encode(SAMPLE.getPassage()))) {
            KvCache view = r.cache().view(0, 5);
            assertEquals(5, view.length());
            assertEquals(r.cache().keys(0).dataPointer().address(), view.keys(0).dataPointer().address(),
                    "a trimmed cache must be a view, not a copy");
            assertEquals(dkv.scorers.model.Positions.consecutive(0, 5), view.positions());
            assertArrayEquals(Tensors.toFloatArray(Ops.narrow(r.cache().keys(1), 2, 0, 5)), Tensors.toFloatArray(view.keys(1)));
        }
    }

    @Test
    void documentDeltaIsAbsentWhenBpeMergesAcrossTheBoundary() {
        Sample s = Sample.newBuilder(SAMPLE).setPassage("The theory is called natural selection").build();
        ScoreRecord r = new SampleScorer(model).score(s, List.of(spec("glued", Placement.SUFFIX, "ism", "", RopeCorrection.HALF_SPLIT)),
                ScoreOptions.defaults()).getFirst();
        assertNull(r.getDocumentKvMaxAbsDelta(), "document ids differ from the bare ones: nothing to compare");
    }

    @Test
    void aTruncatedPrefixScoresAnAnswerRightAfterTheDocument() {
        // no query text: the one answer token is predicted by the head's last row; the continuation scores nothing
        Sample s = Sample.newBuilder(SAMPLE).setAnswer("water").build();
        ConditionSpec trunc = spec("trunc", Placement.PREFIX_TRUNCATED, SURROGATE, "\n", RopeCorrection.HALF_SPLIT);
        trunc.setQueryTemplate("");
        ConditionSpec full = spec("full", Placement.PREFIX_FULL, SURROGATE, "\n", RopeCorrection.HALF_SPLIT);
        full.setQueryTemplate("");
        ConditionSpec bare = spec("bare", Placement.NONE, null, "\n", RopeCorrection.HALF_SPLIT);
        bare.setQueryTemplate("");
        SequenceLayout layout = model.tokenizer().layout(SegmentTexts.of(trunc, s));
        assertEquals(layout.end(Segment.DOCUMENT), layout.start(Segment.ANSWER), "the answer follows the document");
        assertEquals(1, layout.length(Segment.ANSWER));
        for (ScoreOptions options : List.of(ScoreOptions.defaults(), ScoreOptions.defaults().withAttention(true))) {
            Map<String, ScoreRecord> r = new SampleScorer(model).score(s, List.of(trunc, full, bare), options).stream()
                    .collect(Collectors.toMap(ScoreRecord::getCondition, Function.identity()));
            // the one scored row is the last document row of BOS·PREFIX·DOC, before anything is cut: as in PREFIX_FULL
            assertTrue(r.get("trunc").getNllMean() > 0, "NLL " + r.get("trunc").getNllMean());
            assertEquals(r.get("full").getNllMean(), r.get("trunc").getNllMean(), 1e-5);
            assertTrue(r.get("bare").getNllMean() > 0, "NLL " + r.get("bare").getNllMean());
        }
    }

    @Test
    void aCallsScoreMillisAddUpToItsWallTime() {
        List<ConditionSpec> conditions = List.of(
                spec("bare", Placement.NONE, null, "\n", RopeCorrection.HALF_SPLIT),
                spec("suffix", Placement.SUFFIX, SURROGATE, "\n", RopeCorrection.HALF_SPLIT),
                spec("trunc", Placement.PREFIX_TRUNCATED, SURROGATE, "\n", RopeCorrection.HALF_SPLIT));
        SampleScorer scorer = new SampleScorer(model);
        scorer.score(SAMPLE, conditions, ScoreOptions.defaults());  // warm
        // score_ms shares out the score stage (the device work); the host's prepare stage overlaps the previous call
        // in the pipelines and is not counted, so the clock outside brackets the score stage alone. Only building
        // the records falls between the two clocks. A GC pause there can still take 20% of one call on a loaded
        // machine, so the lower bound has to hold in one of a few calls; the upper in all.
        double bestShare = 0;
        String seen = "";
        for (int attempt = 0; attempt < 5 && bestShare <= 0.8; attempt++) {
            SampleScorer.PreparedCall prepared = scorer.prepare(List.of(new SampleScorer.SampleWork(SAMPLE, conditions)),
                    ScoreOptions.defaults());
            long t0 = System.nanoTime();
            List<ScoreRecord> records = scorer.score(prepared).getFirst();
            double outside = (System.nanoTime() - t0) / 1e6;
            double sum = records.stream().mapToDouble(ScoreRecord::getScoreMs).sum();
            records.forEach(r -> assertTrue(r.getScoreMs() > 0, r.getCondition()));
            assertTrue(sum <= outside, "sum " + sum + " ms, call " + outside + " ms");
            bestShare = Math.max(bestShare, sum / outside);
            seen += String.format(" %.1f/%.1f ms", sum, outside);
        }
        assertTrue(bestShare > 0.8, "score_ms sums vs the calls' wall times:" + seen);
    }

    static ForwardResult forward(int[] ids) {
        return model.forward(new ForwardRequest(ids, ForwardRequest.consecutive(0, ids.length), KvCache.empty(),
                AttentionMask.causal(), 0, 0, false));
    }
}
