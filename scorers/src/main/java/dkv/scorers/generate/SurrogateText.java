package dkv.scorers.generate;

/**
 * The research's post-processing of a generated surrogate (RESEARCH-FACTS "Surrogates"): keep the first non-empty
 * line, strip surrounding whitespace and the quotes a model likes to wrap a query in.
 */
public final class SurrogateText {

    private static final String QUOTES = "\"'`“”‘’«»";

    private SurrogateText() {
    }

    /** The cleaned surrogate; empty when the text has no visible characters. */
    public static String clean(String generated) {
        for (String line : generated.strip().split("\\R")) {
            String s = stripQuotes(line.strip());
            if (!s.isEmpty()) return s;
        }
        return "";
    }

    private static String stripQuotes(String s) {
        int from = 0;
        int to = s.length();
        while (from < to && QUOTES.indexOf(s.charAt(from)) >= 0) from++;
        while (to > from && QUOTES.indexOf(s.charAt(to - 1)) >= 0) to--;
        return s.substring(from, to).strip();
    }
}
