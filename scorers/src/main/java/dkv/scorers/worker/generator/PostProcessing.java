package dkv.scorers.worker.generator;

import dkv.avro.GenerationSettings;

/** What the research did to a generated query before using it: keep the first non-empty line, strip whitespace and quotes. */
final class PostProcessing {
    private static final String QUOTES = "\"'`“”‘’«»";

    private PostProcessing() {}

    static String apply(String text, GenerationSettings settings) {
        String out = text == null ? "" : text;
        if (settings.getFirstLine()) {
            out = out.strip().lines().map(String::strip).filter(line -> !line.isEmpty()).findFirst().orElse("");
        }
        out = out.strip();
        if (settings.getStripQuotes()) {
            int start = 0;
            int end = out.length();
            while (start < end && QUOTES.indexOf(out.charAt(start)) >= 0) start++;
            while (end > start && QUOTES.indexOf(out.charAt(end - 1)) >= 0) end--;
            out = out.substring(start, end).strip();
        }
        return out;
    }
}
