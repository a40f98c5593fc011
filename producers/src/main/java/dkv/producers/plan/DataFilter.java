package dkv.producers.plan;

import dkv.avro.Passage;
import dkv.avro.Sample;
import dkv.producers.dataset.SampleFilter;
import dkv.producers.surrogate.GeneratorResources;
import dkv.producers.surrogate.TokenVocabulary;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A plan's {@code data} selection, the research's (RESEARCH-FACTS.md "Data selection"): the scored passage must have
 * {@code passage_words} whitespace words (inclusive bounds; when the reader's passage falls outside, the first
 * selected passage of the record within them is scored instead, which with the default passage choice is the
 * research's "first selected passage within bounds"); a sample whose answer is long next to its passage (answer
 * characters / passage characters above {@code max_answer_passage_chars}) or shorter than {@code min_answer_tokens}
 * tokens of the model's tokenizer is dropped. Sampling stays dkv's seeded selection among the samples kept.
 */
public record DataFilter(int minPassageWords, int maxPassageWords, double maxAnswerPassageChars, int minAnswerTokens) {

    /** Keeps every sample. */
    public static final DataFilter NONE = new DataFilter(0, Integer.MAX_VALUE, Double.POSITIVE_INFINITY, 0);

    public boolean isNone() {
        return equals(NONE);
    }

    /** The filter over samples; the model's tokenizer is loaded only when {@code min_answer_tokens} asks for it. */
    public SampleFilter filter(GeneratorResources resources, String source) {
        if (isNone()) return SampleFilter.ALL;
        TokenVocabulary tokens = minAnswerTokens > 0 ? resources.vocabulary(source + " $.data.min_answer_tokens") : null;
        return sample -> apply(sample, tokens);
    }

    Optional<Sample> apply(Sample sample, TokenVocabulary tokens) {
        Sample kept = sample;
        if (!withinWords(sample.getPassage())) {
            Optional<Sample> other = otherSelectedPassage(sample);
            if (other.isEmpty()) return Optional.empty();
            kept = other.get();
        }
        if ((double) kept.getAnswer().length() / kept.getPassage().length() > maxAnswerPassageChars) return Optional.empty();
        if (tokens != null && tokens.count(kept.getAnswer()) < minAnswerTokens) return Optional.empty();
        return Optional.of(kept);
    }

    private boolean withinWords(String passage) {
        String stripped = passage.strip();
        int words = stripped.isEmpty() ? 0 : stripped.split("\\s+").length;
        return words >= minPassageWords && words <= maxPassageWords;
    }

    private Optional<Sample> otherSelectedPassage(Sample sample) {
        List<Passage> passages = sample.getPassages();
        for (int i = 0; i < passages.size(); i++) {
            Passage p = passages.get(i);
            if (p.getIsSelected() && withinWords(p.getText())) {
                Map<String, String> extra = new HashMap<>(sample.getExtra());
                extra.put("passage_index", Integer.toString(i));
                return Optional.of(Sample.newBuilder(sample).setPassage(p.getText()).setExtra(extra).build());
            }
        }
        return Optional.empty();
    }
}
