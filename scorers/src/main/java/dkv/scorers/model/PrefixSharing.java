package dkv.scorers.model;

/**
 * When one prefill's cache may serve another sequence. In a causal model the K/V of a token depend only on the
 * tokens before it, so any common prefix of ids is reusable; where a region is bidirectional (a prefix LM's prompt,
 * an encoder) every entry depends on the whole region, so only an identical region is.
 */
public enum PrefixSharing {
    LONGEST_COMMON_PREFIX,
    EXACT
}
