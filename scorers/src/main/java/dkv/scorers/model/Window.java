package dkv.scorers.model;

/**
 * A layer's local attention window over sequence indices: a key is visible when it is at most {@code behind}
 * before the query and at most {@code ahead} after it. It narrows whatever the request's {@link AttentionMask}
 * allows; it never widens it.
 */
public record Window(int behind, int ahead) {

    /** No window: every key the mask allows. */
    public static final Window NONE = new Window(Integer.MAX_VALUE, Integer.MAX_VALUE);

    public Window {
        if (behind < 0 || ahead < 0) throw new IllegalArgumentException("window " + behind + "/" + ahead);
    }

    /** HF's causal sliding window of size W: keys in {@code (q − W, q]}. */
    public static Window causal(int size) {
        return new Window(size - 1, 0);
    }

    /**
     * HF's bidirectional sliding window of size W (T5Gemma 2's encoder): keys in {@code [q − (W+1)/2 + 1, q + W/2]},
     * asymmetric for even W.
     */
    public static Window bidirectional(int size) {
        return new Window((size + 1) / 2 - 1, size / 2);
    }

    public boolean allows(int query, int key) {
        return (long) query - key <= behind && (long) key - query <= ahead;
    }
}
