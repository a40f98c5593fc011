package dkv.scorers.generate;

/**
 * What one request produced.
 *
 * @param promptTokens the prompt's token count (special tokens included)
 * @param newTokens    the generated ids, up to and including the first end-of-sequence token
 * @param text         the new tokens decoded without special tokens, cut before a stop string
 * @param stop         why generation ended
 * @param problem      why this item has no usable text (a prompt that does not fit, an empty generation), else null
 */
public record Generation(int promptTokens, int[] newTokens, String text, Stop stop, String problem) {

    /** Why a generation ended. */
    public enum Stop {
        /** an end-of-sequence token (it is the last new token) */
        EOS,
        /** the decoded text reached a stop string */
        STOP_STRING,
        /** the request's max new tokens */
        MAX_NEW_TOKENS,
        /** the model's context (max_position_embeddings) is full */
        CONTEXT,
        /** the request was refused before any forward ({@link #problem} says why) */
        REFUSED
    }

    static Generation refused(int promptTokens, String problem) {
        return new Generation(promptTokens, new int[0], "", Stop.REFUSED, problem);
    }

    public boolean ok() {
        return problem == null;
    }
}
