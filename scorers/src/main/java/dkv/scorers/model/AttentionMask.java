package dkv.scorers.model;

/**
 * Which keys a request's new tokens may attend to, declared per row and materialised (with padding and the layer's
 * {@link Window}) by {@link BatchGeometry} only. Indices are sequence indices over the row's cache entries followed
 * by its new tokens: query i of a request with {@code past} cached entries has index {@code past + i}.
 */
public sealed interface AttentionMask {

    /** Whether the token at sequence index {@code query} may attend to the entry at {@code key}. */
    boolean allows(int query, int key);

    /** Every token sees the past and the new tokens up to itself. */
    record Causal() implements AttentionMask {
        @Override
        public boolean allows(int query, int key) {
            return key <= query;
        }
    }

    /** Every token sees every token (an encoder). */
    record Bidirectional() implements AttentionMask {
        @Override
        public boolean allows(int query, int key) {
            return true;
        }
    }

    /**
     * A prefix LM: the first {@code span} indices (GLM's text and {@code [gMASK]}) see each other both ways; every
     * later token is causal (and so sees the whole span).
     */
    record PrefixLm(int span) implements AttentionMask {
        public PrefixLm {
            if (span < 0) throw new IllegalArgumentException("bidirectional span " + span);
        }

        @Override
        public boolean allows(int query, int key) {
            return key <= query || (query < span && key < span);
        }
    }

    static AttentionMask causal() {
        return new Causal();
    }

    static AttentionMask bidirectional() {
        return new Bidirectional();
    }

    static AttentionMask prefixLm(int span) {
        return new PrefixLm(span);
    }
}
