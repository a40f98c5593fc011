package dkv.producers.corpus;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;

/**
 * In how many scored passages of the dataset each term occurs, counted in one streaming pass. The map
 * grows with the vocabulary, not with the dataset (MS MARCO v1.1's passages have a few hundred thousand
 * distinct terms).
 */
public final class DocumentFrequencies {
    private final Map<String, Integer> counts = new HashMap<>();
    private long documents;
    private List<String> vocabulary;

    public void add(String document) {
        documents++;
        for (String term : new HashSet<>(Terms.of(document))) {
            counts.merge(term, 1, Integer::sum);
        }
        vocabulary = null;
    }

    public long documents() {
        return documents;
    }

    public int frequency(String term) {
        return counts.getOrDefault(term, 0);
    }

    /** Smoothed inverse document frequency, ln((1 + N) / (1 + df)) + 1 (as scikit-learn's TfidfVectorizer). */
    public double idf(String term) {
        return Math.log((1.0 + documents) / (1.0 + frequency(term))) + 1.0;
    }

    /** Every counted term, sorted, so that a seeded draw from it does not depend on hash order. */
    public List<String> vocabulary() {
        if (vocabulary == null) {
            List<String> terms = new ArrayList<>(counts.keySet());
            terms.sort(null);
            vocabulary = List.copyOf(terms);
        }
        return vocabulary;
    }
}
