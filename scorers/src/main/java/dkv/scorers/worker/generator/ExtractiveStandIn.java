package dkv.scorers.worker.generator;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A deterministic {@link SurrogateWriter} without a language model: each template gets a different run of the
 * document's most frequent content words (3 to 8 of them, by the template's name). It extracts, it does not generate,
 * and says so in {@link #describe}: tests use it to check the service without a model, and {@code dkv generator
 * --stand-in} to try the stream without loading one. An empty document gives an empty text (which the service reports
 * as an empty generation).
 */
public final class ExtractiveStandIn implements SurrogateWriter {
    private static final Set<String> STOPWORDS = Set.of("the", "and", "for", "are", "was", "were", "with", "that", "this",
            "from", "which", "have", "has", "had", "its", "not", "but", "can", "you", "your", "all", "any", "may", "also",
            "been", "into", "than", "then", "they", "their", "there", "these", "those", "who", "what", "when", "where",
            "how", "why", "will", "would", "should", "could", "about", "over", "such", "each", "other", "more", "most");

    private final String modelId;

    public ExtractiveStandIn(String modelId) {
        this.modelId = modelId;
    }

    @Override
    public String modelId() {
        return modelId;
    }

    @Override
    public String describe() {
        return "extractive stand-in for '" + modelId + "' (frequent document words, no language model: not generated text)";
    }

    @Override
    public List<Written> write(List<Prompt> prompts) {
        List<Written> out = new ArrayList<>(prompts.size());
        for (Prompt p : prompts) {
            List<String> words = frequentWords(p.document());
            int length = 3 + Math.floorMod(p.template().hashCode(), 6);
            int start = words.isEmpty() ? 0 : Math.floorMod(p.template().hashCode() / 7, words.size());
            List<String> picked = new ArrayList<>();
            for (int i = 0; i < Math.min(length, words.size()); i++) picked.add(words.get((start + i) % words.size()));
            out.add(Written.text(String.join(" ", picked), picked.size()));
        }
        return out;
    }

    /** Content words (longer than two characters, not stop words) by descending count, ties in order of appearance. */
    static List<String> frequentWords(String text) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (String w : text.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}]+")) {
            if (w.length() > 2 && !STOPWORDS.contains(w)) counts.merge(w, 1, Integer::sum);
        }
        List<String> words = new ArrayList<>(counts.keySet());
        words.sort((a, b) -> Integer.compare(counts.get(b), counts.get(a))); // stable: ties keep their order
        return words;
    }
}
