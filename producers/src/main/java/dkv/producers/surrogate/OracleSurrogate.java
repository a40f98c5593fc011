package dkv.producers.surrogate;

import java.util.Set;

/** The sample's own query: the upper bound a surrogate can reach. */
public final class OracleSurrogate implements SurrogateGenerator {
    public static final SurrogateKind KIND = SurrogateKind.of("oracle", Set.of(), false, false,
            (params, resources) -> new OracleSurrogate());

    @Override
    public String generate(SurrogateInput input) {
        return input.sample().getQuery();
    }
}
