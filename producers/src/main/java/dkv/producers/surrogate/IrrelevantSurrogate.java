package dkv.producers.surrogate;

import java.util.Set;

/** Another sample's query: a real question about something else. */
public final class IrrelevantSurrogate implements SurrogateGenerator {
    public static final SurrogateKind KIND = SurrogateKind.of("irrelevant", Set.of(), false, true,
            (params, resources) -> new IrrelevantSurrogate());

    @Override
    public String generate(SurrogateInput input) {
        return input.corpus().donors().pick(input.sample().getId(), input.random()).query();
    }
}
