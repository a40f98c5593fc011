package dkv.scorers.model;

/**
 * One forward step: new tokens at explicit RoPE positions after an existing cache.
 *
 * @param ids             new token ids
 * @param positions       RoPE position of each new token
 * @param past            cache the new tokens attend to (not modified; {@link KvCache#empty()} for none)
 * @param mask            causal, or a custom mask over past + new
 * @param logitsFrom      first new-token row whose next-token logits are wanted
 * @param logitsTo        end (exclusive) of those rows; equal to logitsFrom for none
 * @param attentionProbs  also return the attention probabilities (explicit attention instead of fused SDPA)
 */
public record ForwardRequest(int[] ids, long[] positions, KvCache past, AttentionMask mask,
                             int logitsFrom, int logitsTo, boolean attentionProbs) {

    public ForwardRequest {
        if (ids.length != positions.length) {
            throw new IllegalArgumentException(ids.length + " ids but " + positions.length + " positions");
        }
        if (logitsFrom < 0 || logitsTo > ids.length || logitsFrom > logitsTo) {
            throw new IllegalArgumentException("logit rows [" + logitsFrom + ", " + logitsTo + ") outside " + ids.length);
        }
    }

    /** Consecutive positions starting at {@code start}. */
    public static long[] consecutive(long start, int count) {
        long[] p = new long[count];
        for (int i = 0; i < count; i++) p[i] = start + i;
        return p;
    }
}
