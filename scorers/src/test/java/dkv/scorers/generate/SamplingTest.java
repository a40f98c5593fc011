package dkv.scorers.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Host sampling on hand-made logits: HF's warper semantics, and the seed alone decides the draw. */
class SamplingTest {

    static final float[] LOGITS = {0.5f, 3.0f, 2.9f, -1f, 1.0f, 3.0f};

    @Test
    void greedyTakesTheFirstHighest() {
        assertEquals(1, Sampling.GREEDY.next(LOGITS, 0, LOGITS.length, null));
        assertEquals(2, Sampling.GREEDY.next(new float[] {9, 9, 1, 2, 3}, 2, 3, null), "an index within the row, which alone counts");
    }

    @Test
    void topKKeepsOnlyTheHighestTokens() {
        Sampling topTwo = new Sampling(5.0, 1, 2);  // a hot temperature: without top-k every token would show up
        SplittableRandom random = new SplittableRandom(3);
        for (int i = 0; i < 2000; i++) {
            int t = topTwo.next(LOGITS, 0, LOGITS.length, random);
            assertTrue(t == 1 || t == 5, "ties at the k-th value kept, nothing else: " + t);
        }
        assertEquals(2.9, Sampling.kthLargest(new double[] {0.5, 3.0, 2.9, -1, 1.0}, 2));
    }

    @Test
    void topPDropsTheTailWhoseMassStaysBelowOneMinusP() {
        // probabilities 0.5, 0.3, 0.15, 0.05: top-p 0.7 keeps {0.5, 0.3} (the tail 0.2 ≤ 0.3 goes, 0.3 more would not)
        float[] logits = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15), (float) Math.log(0.05)};
        Sampling nucleus = new Sampling(1.0, 0.7, 0);
        SplittableRandom random = new SplittableRandom(11);
        int[] counts = new int[4];
        for (int i = 0; i < 20000; i++) counts[nucleus.next(logits, 0, 4, random)]++;
        assertEquals(0, counts[2] + counts[3]);
        assertEquals(0.5 / 0.8, counts[0] / 20000.0, 0.02, "renormalised over the kept tokens");
    }

    @Test
    void theSeedDecidesTheDraw() {
        Sampling s = new Sampling(1.0, 0.95, 0);
        int[] a = draws(s, 7);
        int[] b = draws(s, 7);
        int[] c = draws(s, 8);
        assertEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(b));
        assertTrue(!java.util.Arrays.equals(a, c), "another seed draws otherwise");
    }

    static int[] draws(Sampling s, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] out = new int[40];
        for (int i = 0; i < out.length; i++) out[i] = s.next(LOGITS, 0, LOGITS.length, random);
        return out;
    }

    @Test
    void badSettingsAreRefused() {
        assertEquals("top-p must lie in (0, 1], got 0.0", assertThrows(IllegalArgumentException.class, () -> new Sampling(1, 0, 0)).getMessage());
        assertEquals("top-k must be ≥ 0 (0: no limit), got -2", assertThrows(IllegalArgumentException.class, () -> new Sampling(1, 1, -2)).getMessage());
        assertEquals("temperature must be ≥ 0, got NaN", assertThrows(IllegalArgumentException.class, () -> new Sampling(Double.NaN, 1, 0)).getMessage());
    }

    @Test
    void surrogatesKeepTheFirstLineWithoutQuotesOrSpaces() {
        assertEquals("how long to boil an egg?", SurrogateText.clean("  \"how long to boil an egg?\"\nSure! Here is another one"));
        assertEquals("boiling point water", SurrogateText.clean("'boiling point water'  "));
        assertEquals("who wrote it", SurrogateText.clean("\n\n“who wrote it”\r\nmore"));
        assertEquals("", SurrogateText.clean(" \"\" \n"));
    }
}
