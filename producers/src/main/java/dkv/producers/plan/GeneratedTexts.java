package dkv.producers.plan;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The generator workers' answers for one sample, by name (template, or the condition whose given text was embedded):
 * what the producer joins into the sample's WorkItem.
 *
 * @param generator the generator model id, stamped on generated conditions
 */
public record GeneratedTexts(Map<String, Answer> byName, Optional<String> generator) {
    public static final GeneratedTexts NONE = new GeneratedTexts(Map.of(), Optional.empty());

    /** One answer: the text (or the error why there is none) and its query similarity (or null). */
    public record Answer(String text, Double similarity, String error) {}

    public GeneratedTexts {
        byName = Map.copyOf(byName);
    }

    /** The text written from {@code name}; a missing or failed one is an error with the worker's reason. */
    public String text(String name) {
        Answer a = byName.get(name);
        if (a == null) {
            throw new IllegalStateException("no surrogate for template '" + name + "' yet");
        }
        if (a.text() == null) {
            throw new IllegalStateException("template '" + name + "' failed: " + a.error());
        }
        return a.text();
    }

    public Optional<Double> similarity(String name) {
        return Optional.ofNullable(byName.get(name)).map(Answer::similarity);
    }

    /**
     * The template whose text is most similar to the real query, among {@code templates} in order (ties: the first);
     * an error when none has a similarity.
     */
    public String routed(List<String> templates) {
        String best = null;
        double bestSimilarity = Double.NEGATIVE_INFINITY;
        for (String t : templates) {
            Answer a = byName.get(t);
            if (a != null && a.text() != null && a.similarity() != null && a.similarity() > bestSimilarity) {
                best = t;
                bestSimilarity = a.similarity();
            }
        }
        if (best == null) {
            String why = templates.stream().map(byName::get).filter(a -> a != null).map(a -> a.text() == null ? a.error()
                    : "no similarity: " + a.error()).filter(e -> e != null).findFirst().orElse("no answers");
            throw new IllegalStateException("no template has a text with a query similarity to route by (" + why + ")");
        }
        return best;
    }
}
