package dkv.scorers.model;

/**
 * One forward step of one sequence: new tokens at explicit positions after an existing cache.
 *
 * @param ids             new token ids
 * @param positions       position of each new token (1D, or 2D for GLM)
 * @param past            cache the new tokens attend to (not modified; {@link KvCache#empty()} for none)
 * @param mask            which past and new entries each new token may see
 * @param logitsFrom      first new-token row whose next-token logits are wanted
 * @param logitsTo        end (exclusive) of those rows; equal to logitsFrom for none
 * @param attentionProbs  also return the attention probabilities (explicit attention instead of fused SDPA)
 * @param cross           an encoder-decoder's encoder memory and the tokens of it this row may see (null: none)
 */
public record ForwardRequest(int[] ids, Positions positions, KvCache past, AttentionMask mask,
                             int logitsFrom, int logitsTo, boolean attentionProbs, Cross cross) {

    /** The encoder tokens a decoder row reads: its memory, and per memory token whether it is visible. */
    public record Cross(EncoderMemory memory, boolean[] visible) {
        public Cross {
            if (visible.length != memory.length()) {
                throw new IllegalArgumentException(visible.length + " visibility flags for a memory of " + memory.length());
            }
        }

        /** Every encoder token visible. */
        public static Cross all(EncoderMemory memory) {
            boolean[] v = new boolean[memory.length()];
            java.util.Arrays.fill(v, true);
            return new Cross(memory, v);
        }
    }

    public ForwardRequest {
        if (ids.length != positions.size()) {
            throw new IllegalArgumentException(ids.length + " ids but " + positions.size() + " positions");
        }
        if (logitsFrom < 0 || logitsTo > ids.length || logitsFrom > logitsTo) {
            throw new IllegalArgumentException("logit rows [" + logitsFrom + ", " + logitsTo + ") outside " + ids.length);
        }
    }

    /** A decoder-only request with 1D positions. */
    public ForwardRequest(int[] ids, long[] positions, KvCache past, AttentionMask mask, int logitsFrom, int logitsTo,
                          boolean attentionProbs) {
        this(ids, Positions.of(positions), past, mask, logitsFrom, logitsTo, attentionProbs, null);
    }

    /** Consecutive positions starting at {@code start}. */
    public static long[] consecutive(long start, int count) {
        return Positions.consecutive(start, count).first();
    }
}
