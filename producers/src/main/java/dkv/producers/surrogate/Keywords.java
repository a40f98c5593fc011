package dkv.producers.surrogate;

import dkv.producers.corpus.DocumentFrequencies;
import dkv.producers.corpus.Terms;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** TF-IDF keywords of a document against the dataset's document frequencies: the one ranking both keyword kinds use. */
final class Keywords {
    private Keywords() {}

    /**
     * The {@code k} terms of highest tf·idf (raw term count times smoothed idf), ties broken by first
     * appearance in the document.
     */
    static List<String> top(String document, DocumentFrequencies frequencies, int k) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (String term : Terms.of(document)) {
            counts.merge(term, 1, Integer::sum);
        }
        List<String> order = new ArrayList<>(counts.keySet());
        Map<String, Integer> firstSeen = new LinkedHashMap<>();
        for (int i = 0; i < order.size(); i++) {
            firstSeen.put(order.get(i), i);
        }
        order.sort(Comparator.comparingDouble((String t) -> -counts.get(t) * frequencies.idf(t))
                .thenComparingInt(firstSeen::get));
        return List.copyOf(order.subList(0, Math.min(k, order.size())));
    }
}
