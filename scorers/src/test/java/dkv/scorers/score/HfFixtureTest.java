package dkv.scorers.score;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.Sample;
import dkv.avro.ScoreRecord;
import dkv.scorers.fixtures.ReferenceFixture;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * Every placement of every fixture model against HF transformers (ops/reference/llama_fixtures.py):
 * float32 on CPU, NLLs and per-token log-probs within 1e-4, identical segment counts, the document K/V check
 * and attention shares. Run with the shared bare prefill and batched conditions (the default), with a
 * separate full forward per condition one at a time, and with all samples scored in one call.
 */
class HfFixtureTest {

    static final double TOLERANCE = 1e-4;
    static final List<String> NAMES = ReferenceFixture.NAMES;

    @ParameterizedTest
    @FieldSource("NAMES")
    void sharedPrefillMatchesHf(String name) {
        check(name, ScoreOptions.defaults(), false);
    }

    @ParameterizedTest
    @FieldSource("NAMES")
    void separateForwardsMatchHf(String name) {
        check(name, ScoreOptions.defaults().withSharing(false).withMaxBatch(1), false);
    }

    @ParameterizedTest
    @FieldSource("NAMES")
    void allSamplesBatchedTogetherMatchHf(String name) {
        check(name, ScoreOptions.defaults(), true);
    }

    static void check(String name, ScoreOptions options, boolean allAtOnce) {
        FixtureFile f = ReferenceFixture.load(name);
        int compared = 0;
        try (CausalLm model = ModelFamilies.loadCausal(f.dir(), Device.cpu(), DType.FLOAT32)) {
            SampleScorer scorer = new SampleScorer(model);
            List<Sample> samples = List.copyOf(f.samples().values());
            List<List<ScoreRecord>> scored = allAtOnce
                    ? scorer.scoreAll(samples.stream().map(s -> new SampleScorer.SampleWork(s, f.conditions(s.getId()))).toList(), options)
                    : samples.stream().map(s -> scorer.score(s, f.conditions(s.getId()), options)).toList();
            for (int s = 0; s < samples.size(); s++) {
                for (FixtureComparison.Deviation d : FixtureComparison.compare(f, samples.get(s).getId(), scored.get(s))) {
                    String where = name + " " + d.where();
                    assertEquals(List.of(), d.mismatches(), where);
                    assertTrue(d.nllMean() <= TOLERANCE, where + " |Δ nll_mean| " + d.nllMean());
                    // a sum over at most 12 answer tokens in these fixtures
                    assertTrue(d.nllSum() <= TOLERANCE * 12, where + " |Δ nll_sum| " + d.nllSum());
                    assertTrue(d.tokenLogprob() <= TOLERANCE, where + " |Δ token logprob| " + d.tokenLogprob());
                    assertTrue(d.documentDelta() <= TOLERANCE, where + " |Δ document check| " + d.documentDelta());
                    assertTrue(d.attentionShare() <= TOLERANCE, where + " |Δ attention share| " + d.attentionShare());
                    compared++;
                }
            }
        }
        assertEquals(f.json().get("expected").size(), compared, "every expected record compared");
    }
}
