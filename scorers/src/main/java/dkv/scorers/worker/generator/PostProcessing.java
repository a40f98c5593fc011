package dkv.scorers.worker.generator;

import dkv.avro.GenerationSettings;
import dkv.scorers.generate.SurrogateText;

/** What the research did to a generated query before using it: keep the first non-empty line, strip whitespace and quotes. */
final class PostProcessing {

    private PostProcessing() {}

    /** The plan's post-processing of one generated text: its first line and no surrounding quotes, where asked. */
    static String apply(String text, GenerationSettings settings) {
        String out = text == null ? "" : text;
        if (settings.getFirstLine()) out = SurrogateText.firstLine(out);
        return settings.getStripQuotes() ? SurrogateText.stripQuotes(out) : out.strip();
    }
}
