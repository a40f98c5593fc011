package dkv.producers.surrogate;

import java.text.BreakIterator;
import java.util.Locale;
import java.util.Set;

/** The document's first sentence (java.text sentence boundaries, English rules). */
public final class LeadSentenceSurrogate implements SurrogateGenerator {
    public static final SurrogateKind KIND = SurrogateKind.of("lead", Set.of(), false, false,
            (params, resources) -> new LeadSentenceSurrogate());

    @Override
    public String generate(SurrogateInput input) {
        String passage = input.sample().getPassage().strip();
        BreakIterator sentences = BreakIterator.getSentenceInstance(Locale.ENGLISH);
        sentences.setText(passage);
        int end = sentences.next();
        return (end == BreakIterator.DONE ? passage : passage.substring(0, end)).strip();
    }
}
