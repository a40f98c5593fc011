package dkv.producers.surrogate;

import java.util.Map;
import java.util.Set;

/**
 * A fixed phrase, the same for every sample (e.g. "What is this document about?"). The {@code surrogate}
 * text may use {@code {query}} and {@code {passage}}, which is how the plain {@code dkv score} plan format
 * writes its surrogates.
 */
public final class StaticSurrogate implements SurrogateGenerator {
    public static final SurrogateKind KIND = SurrogateKind.of("static", Set.of(), true, false,
            (params, resources) -> {
                String template = params.template().orElseThrow(() ->
                        new IllegalArgumentException(params.path() + ".surrogate: required for surrogate_kind 'static'"));
                Placeholders.check(template, Set.of("query", "passage"), params.path());
                return new StaticSurrogate(template);
            });

    private final String template;

    public StaticSurrogate(String template) {
        this.template = template;
    }

    @Override
    public String generate(SurrogateInput input) {
        return Placeholders.fill(template, Map.of("query", input.sample().getQuery(), "passage", input.sample().getPassage()));
    }
}
