package dkv.scorers.generate;

/**
 * The research's post-processing of a generated surrogate (RESEARCH-FACTS "Surrogates"): keep the first non-empty
 * line, strip surrounding whitespace and the quotes a model likes to wrap a query in.
 */
public final class SurrogateText {

    private static final String QUOTES = "\"'`“”‘’«»";

    private SurrogateText() {
    }

    /** The cleaned surrogate: the first non-empty line without its surrounding quotes; empty when there is none. */
    public static String clean(String generated) {
        return stripQuotes(firstLine(generated));
    }

    /** The first line with visible characters, stripped; empty when there is none. */
    public static String firstLine(String text) {
        return text.strip().lines().map(String::strip).filter(line -> !line.isEmpty()).findFirst().orElse("");
    }

    /** {@code s} stripped, without the quote characters around it. */
    public static String stripQuotes(String s) {
        String t = s.strip();
        int from = 0;
        int to = t.length();
        while (from < to && QUOTES.indexOf(t.charAt(from)) >= 0) from++;
        while (to > from && QUOTES.indexOf(t.charAt(to - 1)) >= 0) to--;
        return t.substring(from, to).strip();
    }
}
