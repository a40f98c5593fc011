package dkv.producers.surrogate;

import java.util.Set;

/** Another sample's scored passage: document-like text that is not this document. */
public final class RandomPassageSurrogate implements SurrogateGenerator {
    public static final SurrogateKind KIND = SurrogateKind.of("random_passage", Set.of(), false, true,
            (params, resources) -> new RandomPassageSurrogate());

    @Override
    public String generate(SurrogateInput input) {
        return input.corpus().donors().pick(input.sample().getId(), input.random()).passage();
    }
}
