package dkv.scorers.score;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.Sample;
import dkv.avro.ScoreRecord;
import dkv.scorers.fixtures.ReferenceFixture;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.model.ModelSnapshot;
import dkv.scorers.model.Rope;
import dkv.scorers.model.SegmentTokenizer;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.TorchException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 8's batch invariance: every condition's NLL and per-token log-probabilities, scored one forward at a
 * time, equal those of the same work in padded, length-sorted batches (ragged documents, so the continuation
 * batches carry pasts of different lengths) within 1e-5 in float32 and 1e-2 in bfloat16; and out-of-memory
 * back-off changes nothing but the batching.
 */
class BatchInvarianceTest {

    /** Passages of different lengths, so batches pad both the new tokens and the pasts. */
    static final List<SampleScorer.SampleWork> WORK = List.of(
            work("a", "why is the sky blue", "Sunlight is scattered by the molecules of the air.",
                    "shorter waves are scattered more", "what makes the sky look blue"),
            work("b", "who wrote the book", "The theory was first published in a book written by a naturalist who "
                    + "studied species on islands for many years, and argued that natural selection shapes every population.",
                    "a naturalist", "which book introduced the theory"),
            work("c", "how long to boil an egg", "Eggs boil in minutes. A soft egg takes less time than a hard egg, "
                    + "and cold eggs take longer.", "about ten minutes for a hard egg", "egg boiling time"));

    static SampleScorer.SampleWork work(String id, String query, String passage, String answer, String surrogate) {
        Sample s = Sample.newBuilder().setId(id).setDataset("test").setQuery(query).setPassage(passage).setAnswer(answer).build();
        return new SampleScorer.SampleWork(s, ScorerBench.conditions(surrogate));
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "mistral", "qwen2"})
    void float32BatchesMatchOneForwardAtATime(String fixture) {
        check(fixture, DType.FLOAT32, 1e-5);
    }

    /**
     * Not the mistral fixture: its head_dim 32 (q width 128 on a hidden size of 64) takes CPU bf16 kernels whose
     * rounding depends on the batch shape, 0.02 apart, where bf16 itself is 0.48 from float32 on that fixture.
     * Llama and Qwen2 (head_dim 16) agree to the bit on CPU.
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2"})
    void bfloat16BatchesMatchOneForwardAtATime(String fixture) {
        check(fixture, DType.BFLOAT16, 1e-2);
    }

    static void check(String fixture, DType dtype, double tolerance) {
        try (CausalLm model = ModelFamilies.loadCausal(ReferenceFixture.load(fixture).dir(), Device.cpu(), dtype)) {
            SampleScorer scorer = new SampleScorer(model);
            List<List<ScoreRecord>> reference = new ArrayList<>();
            for (SampleScorer.SampleWork w : WORK) {
                reference.add(scorer.score(w.sample(), w.conditions(), ScoreOptions.defaults().withMaxBatch(1)));
            }
            for (ScoreOptions options : List.of(ScoreOptions.defaults().withMaxBatch(64),
                    ScoreOptions.defaults().withMaxBatch(64).withMaxTokens(60))) {
                assertClose(reference, scorer.scoreAll(WORK, options), tolerance, fixture + " " + dtype + " " + options.maxBatch()
                        + " rows / " + options.maxTokens() + " tokens");
            }
        }
    }

    @Test
    void outOfMemoryHalvesTheBatchAndRemembersTheBudget() {
        try (CausalLm model = ModelFamilies.loadCausal(ReferenceFixture.load("mistral").dir(), Device.cpu(), DType.FLOAT32)) {
            List<List<ScoreRecord>> reference = new SampleScorer(model).scoreAll(WORK, ScoreOptions.defaults().withMaxBatch(1));
            MemoryLimited limited = new MemoryLimited(model, 40);
            List<List<ScoreRecord>> backedOff = new SampleScorer(limited).scoreAll(WORK, ScoreOptions.defaults().withMaxBatch(64));
            assertClose(reference, backedOff, 1e-5, "after out-of-memory back-off");
            assertTrue(limited.failures > 0, "the limit was never hit");
            int failuresAfterFirstCall = limited.failures;
            new SampleScorer(limited).scoreAll(WORK, ScoreOptions.defaults().withMaxBatch(64));
            assertTrue(limited.failures > failuresAfterFirstCall, "a new scorer learns afresh");

            ForwardBatcher batcher = new ForwardBatcher(limited);
            SampleScorer scorer = new SampleScorer(limited);
            assertEquals(Integer.MAX_VALUE, batcher.learnedMaxTokens());
            int before = limited.failures;
            scorer.scoreAll(WORK, ScoreOptions.defaults().withMaxBatch(64));
            int firstCall = limited.failures - before;
            scorer.scoreAll(WORK, ScoreOptions.defaults().withMaxBatch(64));
            int secondCall = limited.failures - before - firstCall;
            assertTrue(secondCall < firstCall, "the learned budget is remembered: " + firstCall + " then " + secondCall);
        }
    }

    @Test
    void otherTorchErrorsAndSingleRowsOutOfMemoryPropagate() {
        try (CausalLm model = ModelFamilies.loadCausal(ReferenceFixture.load("mistral").dir(), Device.cpu(), DType.FLOAT32)) {
            TorchException e = assertThrows(TorchException.class, () -> new SampleScorer(new MemoryLimited(model, 1) {
                @Override
                public List<ForwardResult> forwardBatch(List<ForwardRequest> requests) {
                    throw new TorchException("aten::mm failed in libtorch: CUDA out of memory. Tried to allocate 2.00 GiB");
                }
            })
                    .scoreAll(WORK, ScoreOptions.defaults().withMaxBatch(64)));
            assertTrue(ForwardBatcher.isOutOfMemory(e), e.getMessage());
            assertTrue(!ForwardBatcher.isOutOfMemory(new TorchException("aten::mm failed in libtorch: shapes cannot be multiplied")));
        }
    }

    /**
     * NLL means within {@code tolerance} (issue 8's criterion); per-token log-probabilities within 10x that (a
     * 16-bit logit near 16 is only good to 1/16, and single tokens do not average their rounding out).
     */
    static void assertClose(List<List<ScoreRecord>> expected, List<List<ScoreRecord>> actual, double tolerance, String what) {
        assertEquals(expected.size(), actual.size());
        double worstNll = 0;
        double worstToken = 0;
        String worstWhere = "";
        for (int s = 0; s < expected.size(); s++) {
            assertEquals(expected.get(s).size(), actual.get(s).size());
            for (int c = 0; c < expected.get(s).size(); c++) {
                ScoreRecord e = expected.get(s).get(c);
                ScoreRecord a = actual.get(s).get(c);
                assertEquals(e.getCondition(), a.getCondition());
                assertEquals(e.getTokenLogprobs().size(), a.getTokenLogprobs().size());
                double d = Math.abs(e.getNllMean() - a.getNllMean());
                if (d > worstNll) {
                    worstNll = d;
                    worstWhere = "sample " + e.getSampleId() + ", " + e.getCondition();
                }
                for (int t = 0; t < e.getTokenLogprobs().size(); t++) {
                    worstToken = Math.max(worstToken, Math.abs(e.getTokenLogprobs().get(t) - a.getTokenLogprobs().get(t)));
                }
            }
        }
        String summary = String.format("%s: max |dNLL| %.3g (%s), max |d log p| %.3g", what, worstNll, worstWhere, worstToken);
        System.out.println(summary);
        assertTrue(worstNll <= tolerance, summary);
        assertTrue(worstToken <= 10 * tolerance, summary);
    }

    /** A model whose batched forward fails like CUDA's allocator above a number of padded new tokens. */
    static class MemoryLimited implements CausalLm {
        final CausalLm model;
        final int maxTokens;
        int failures;

        MemoryLimited(CausalLm model, int maxTokens) {
            this.model = model;
            this.maxTokens = maxTokens;
        }

        @Override
        public List<ForwardResult> forwardBatch(List<ForwardRequest> requests) {
            int width = requests.stream().mapToInt(r -> r.ids().length).max().orElse(0);
            if (requests.size() > 1 && requests.size() * width > maxTokens) {
                failures++;
                throw new TorchException("aten::mm failed in libtorch: CUDA out of memory. Tried to allocate 2.00 GiB");
            }
            return model.forwardBatch(requests);
        }

        @Override
        public ForwardResult forward(ForwardRequest request) {
            return forwardBatch(List.of(request)).getFirst();
        }

        @Override
        public String family() {
            return model.family();
        }

        @Override
        public ModelSnapshot snapshot() {
            return model.snapshot();
        }

        @Override
        public dkv.scorers.model.LayoutTokenizer tokenizer() {
            return model.tokenizer();
        }

        @Override
        public Device device() {
            return model.device();
        }

        @Override
        public DType dtype() {
            return model.dtype();
        }

        @Override
        public int layers() {
            return model.layers();
        }

        @Override
        public Rope rope(int layer) {
            return model.rope(layer);
        }

        @Override
        public void close() {
        }
    }
}
