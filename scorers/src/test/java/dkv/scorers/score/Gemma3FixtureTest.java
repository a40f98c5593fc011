package dkv.scorers.score;

import org.junit.jupiter.api.Test;

/**
 * Gemma 3 decoder-only (ops/reference/t5gemma2_fixtures.py's {@code gemma3}: legacy config form, pattern 2 → sliding,
 * full, sliding, window 10, per-type RoPE) under the twelve decoder-only placements against HF, float32 on CPU within
 * 1e-4, through the same comparison as the Llama-family fixtures: shared prefills and batches, one forward at a time,
 * and every sample in one call. Truncation re-rotates each layer with its own type's table, or {@code trunc} misses.
 */
class Gemma3FixtureTest {

    @Test
    void sharedPrefillMatchesHf() {
        HfFixtureTest.check("gemma3", ScoreOptions.defaults(), false);
    }

    @Test
    void separateForwardsMatchHf() {
        HfFixtureTest.check("gemma3", ScoreOptions.defaults().withSharing(false).withMaxBatch(1), false);
    }

    @Test
    void allSamplesBatchedTogetherMatchHf() {
        HfFixtureTest.check("gemma3", ScoreOptions.defaults(), true);
    }
}
