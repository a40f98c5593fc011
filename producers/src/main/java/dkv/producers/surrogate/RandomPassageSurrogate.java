package dkv.producers.surrogate;

import java.util.Set;

/**
 * Another sample's scored passage: document-like text that is not this document; with {@code n}, only its first n words
 * (the research's v3 "random": 20 words, and exp 2B's length titration, 1 to 50).
 */
public final class RandomPassageSurrogate implements SurrogateGenerator {
    public static final SurrogateKind KIND = SurrogateKind.of("random_passage", Set.of("n"), false, true,
            (params, resources) -> new RandomPassageSurrogate(params.count("n", Integer.MAX_VALUE)));

    private final int words;

    public RandomPassageSurrogate(int words) {
        this.words = words;
    }

    @Override
    public String generate(SurrogateInput input) {
        return Words.first(input.corpus().donors().pick(input.sample().getId(), input.random()).passage(), words);
    }
}
