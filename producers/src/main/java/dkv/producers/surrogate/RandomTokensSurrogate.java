package dkv.producers.surrogate;

import java.util.Set;

/**
 * {@code n} tokens (default 8) drawn uniformly, with replacement, from the model's ordinary vocabulary and
 * decoded by the model's tokenizer: a surrogate with the length of a query and no content.
 */
public final class RandomTokensSurrogate implements SurrogateGenerator {
    public static final SurrogateKind KIND = SurrogateKind.of("random_tokens", Set.of("n"), false, false,
            (params, resources) -> new RandomTokensSurrogate(resources.vocabulary(params.path()), params.count("n", 8)));

    private final TokenVocabulary vocabulary;
    private final int n;

    public RandomTokensSurrogate(TokenVocabulary vocabulary, int n) {
        this.vocabulary = vocabulary;
        this.n = n;
    }

    @Override
    public String generate(SurrogateInput input) {
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            ids[i] = vocabulary.id(input.random().nextInt(vocabulary.size()));
        }
        return vocabulary.decode(ids);
    }
}
