package dkv.producers.surrogate;

import java.text.BreakIterator;
import java.util.Locale;
import java.util.Set;

/**
 * The document's first sentence (java.text sentence boundaries, English rules), cut to its first {@code max_words}
 * words when given (the research's v3 lead: at most 25 words).
 */
public final class LeadSentenceSurrogate implements SurrogateGenerator {
    public static final SurrogateKind KIND = SurrogateKind.of("lead", Set.of("max_words"), false, false,
            (params, resources) -> new LeadSentenceSurrogate(params.count("max_words", Integer.MAX_VALUE)));

    private final int maxWords;

    public LeadSentenceSurrogate(int maxWords) {
        this.maxWords = maxWords;
    }

    @Override
    public String generate(SurrogateInput input) {
        String passage = input.sample().getPassage().strip();
        BreakIterator sentences = BreakIterator.getSentenceInstance(Locale.ENGLISH);
        sentences.setText(passage);
        int end = sentences.next();
        return Words.first((end == BreakIterator.DONE ? passage : passage.substring(0, end)).strip(), maxWords);
    }
}
