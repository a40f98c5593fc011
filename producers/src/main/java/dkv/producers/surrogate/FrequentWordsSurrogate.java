package dkv.producers.surrogate;

import dkv.producers.corpus.Terms;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The research's v3 "doc keywords": the document's {@code k} (default 5) most frequent words by plain counts (no IDF,
 * unlike {@code keywords}), stop words and words of at most two characters left out, ties by first appearance. With a
 * {@code surrogate} template the words fill {@code {keyword}} (the top one) and {@code {keywords}} (all k): v3's
 * "What is {top keyword}?" and "top keyword × 10" are this kind with a template and k = 1.
 */
public final class FrequentWordsSurrogate implements SurrogateGenerator {
    public static final SurrogateKind KIND = SurrogateKind.of("frequent_words", Set.of("k"), true, false,
            (params, resources) -> {
                String template = params.template().orElse("{keywords}");
                Placeholders.check(template, Set.of("keyword", "keywords"), params.path());
                return new FrequentWordsSurrogate(template, params.count("k", 5));
            });

    private final String template;
    private final int k;

    public FrequentWordsSurrogate(String template, int k) {
        this.template = template;
        this.k = k;
    }

    /** The {@code k} most frequent words of {@code text} longer than two characters, stop words excluded. */
    static List<String> top(String text, int k) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (String term : Terms.of(text)) {
            if (term.length() > 2) counts.merge(term, 1, Integer::sum);
        }
        List<String> order = new ArrayList<>(counts.keySet());
        order.sort((a, b) -> Integer.compare(counts.get(b), counts.get(a)));  // stable: ties keep first appearance
        return List.copyOf(order.subList(0, Math.min(k, order.size())));
    }

    @Override
    public String generate(SurrogateInput input) {
        List<String> top = top(input.sample().getPassage(), k);
        String first = top.isEmpty() ? "this" : top.getFirst();
        return Placeholders.fill(template, Map.of("keyword", first, "keywords", String.join(" ", top)));
    }
}
