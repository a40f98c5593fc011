package dkv.producers.surrogate;

/** Whitespace-separated words of a text, as the research cut its lead sentences and donor passages. */
final class Words {
    private Words() {}

    /** The first {@code n} words of {@code text} joined by single spaces, or the text unchanged when it has at most n. */
    static String first(String text, int n) {
        String[] words = text.strip().split("\\s+");
        if (words.length <= n) {
            return text;
        }
        return String.join(" ", java.util.Arrays.copyOf(words, n));
    }
}
