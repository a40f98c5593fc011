package dkv.producers.surrogate;

import java.util.List;
import java.util.Set;

/**
 * Words drawn uniformly, with replacement, from the dataset's vocabulary (the terms counted for TF-IDF):
 * one by default, {@code n} when given, or as many as the sample's query has words with
 * {@code "match": "query"} (a length-matched content-free control).
 */
public final class RandomWordSurrogate implements SurrogateGenerator {
    public static final SurrogateKind KIND = SurrogateKind.of("random_word", Set.of("n", "match"), false, true,
            (params, resources) -> {
                boolean matchQuery = params.text("match").map(m -> {
                    if (!m.equals("query")) {
                        throw new IllegalArgumentException(params.path() + ".match: the only value is \"query\", found \"" + m + "\"");
                    }
                    return true;
                }).orElse(false);
                if (matchQuery && params.values().containsKey("n")) {
                    throw new IllegalArgumentException(params.path() + ": give either 'n' or 'match', not both");
                }
                return new RandomWordSurrogate(params.count("n", 1), matchQuery);
            });

    private final int n;
    private final boolean matchQuery;

    public RandomWordSurrogate(int n, boolean matchQuery) {
        this.n = n;
        this.matchQuery = matchQuery;
    }

    @Override
    public String generate(SurrogateInput input) {
        List<String> vocabulary = input.corpus().frequencies().vocabulary();
        if (vocabulary.isEmpty()) {
            throw new IllegalStateException("random_word: the dataset has no vocabulary (no scored passages were counted)");
        }
        int count = matchQuery ? Math.max(1, input.sample().getQuery().strip().split("\\s+").length) : n;
        StringBuilder words = new StringBuilder();
        for (int i = 0; i < count; i++) {
            if (i > 0) {
                words.append(' ');
            }
            words.append(vocabulary.get(input.random().nextInt(vocabulary.size())));
        }
        return words.toString();
    }
}
