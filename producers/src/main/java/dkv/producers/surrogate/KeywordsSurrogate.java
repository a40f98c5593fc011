package dkv.producers.surrogate;

import java.util.Set;

/** The document's top-k TF-IDF keywords, space-separated (k defaults to 5). */
public final class KeywordsSurrogate implements SurrogateGenerator {
    public static final SurrogateKind KIND = SurrogateKind.of("keywords", Set.of("k"), false, true,
            (params, resources) -> new KeywordsSurrogate(params.count("k", 5)));

    private final int k;

    public KeywordsSurrogate(int k) {
        this.k = k;
    }

    @Override
    public String generate(SurrogateInput input) {
        return String.join(" ", Keywords.top(input.sample().getPassage(), input.corpus().frequencies(), k));
    }
}
