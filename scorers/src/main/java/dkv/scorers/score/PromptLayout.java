package dkv.scorers.score;

import dkv.scorers.model.AttentionMask;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.KvCache;
import dkv.scorers.model.Positions;

/**
 * The forwards of the prefix-LM layout (DESIGN.md "Prefix-LM layout"), with the 2D positions and masks that the
 * published ChatGLM-6B code derives from the ids ({@code get_position_ids}, {@code get_masks}): a prompt
 * {@code TEXT·[gMASK]·<sop>} and a continuation after its cache.
 */
final class PromptLayout {

    private PromptLayout() {
    }

    /**
     * The prompt (its ids end with {@code [gMASK] <sop>}): TEXT and {@code [gMASK]} see each other both ways and
     * {@code <sop>} sees them all; channel 1 = the index for TEXT and {@code [gMASK]}, then the {@code [gMASK]} index
     * for {@code <sop>}; channel 2 = 0, then 1 for {@code <sop>}. Its one logit row, {@code <sop>}'s, predicts the
     * first continuation token.
     */
    static ForwardRequest prefill(int[] promptIds) {
        int n = promptIds.length;
        if (n < 2) throw new IllegalArgumentException("a prompt of " + n + " ids has no [gMASK] <sop>");
        int gmask = n - 2;
        long[] position = new long[n];
        long[] block = new long[n];
        for (int i = 0; i <= gmask; i++) position[i] = i;
        position[n - 1] = gmask;
        block[n - 1] = 1;
        return new ForwardRequest(promptIds, Positions.twoD(position, block), KvCache.empty(),
                AttentionMask.prefixLm(gmask + 1), n - 1, n, false, null);
    }

    /**
     * Tokens after a prompt's cache ({@code past} ends with {@code <sop>}, or with an earlier continuation chunk):
     * every token at channel-1 position {@code gmaskPosition} (the cache's {@code [gMASK]} index), channel 2 counting
     * on from the past's last entry ({@code <sop>}'s 1), causal among themselves and seeing the whole past.
     */
    static ForwardRequest continuation(int[] ids, KvCache past, long gmaskPosition, int logitsFrom, int logitsTo, boolean probs) {
        if (past.isEmpty() || !past.positions().isTwoD()) throw new IllegalArgumentException("a continuation needs its prompt's cache");
        long firstBlock = past.positions().second()[past.length() - 1] + 1;
        long[] position = new long[ids.length];
        long[] block = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            position[i] = gmaskPosition;
            block[i] = firstBlock + i;
        }
        return new ForwardRequest(ids, Positions.twoD(position, block), past, AttentionMask.causal(), logitsFrom, logitsTo,
                probs, null);
    }
}
