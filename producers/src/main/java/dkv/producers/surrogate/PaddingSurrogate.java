package dkv.producers.surrogate;

import java.util.List;
import java.util.Set;

/**
 * "Bare padded" (research exp 09): newlines in place of a surrogate, one per token the model's tokenizer makes of
 * the surrogate of condition {@code of} (or {@code n} of them), so the input grows by that surrogate's length with no
 * content. As a SUFFIX with an empty separator it is the passage followed by newlines only. Counting tokens needs
 * the model's tokenizer (--model-dir).
 */
public final class PaddingSurrogate implements SurrogateGenerator {
    public static final SurrogateKind KIND = new SurrogateKind("padding", Set.of("of", "n"), false, false,
            params -> params.text("of").map(List::of).orElse(List.of()),
            (params, resources) -> {
                if (params.text("of").isPresent() == params.values().containsKey("n")) {
                    throw new IllegalArgumentException(params.path() + ": padding takes either 'of' (a condition whose "
                            + "surrogate's tokens it counts) or 'n' (newlines), not both or neither");
                }
                return params.text("of").isPresent()
                        ? new PaddingSurrogate(params.requiredText("of"), resources.vocabulary(params.path()), 0)
                        : new PaddingSurrogate(null, null, params.count("n", 1));
            });

    private final String source;
    private final TokenVocabulary vocabulary;
    private final int n;

    private PaddingSurrogate(String source, TokenVocabulary vocabulary, int n) {
        this.source = source;
        this.vocabulary = vocabulary;
        this.n = n;
    }

    @Override
    public String generate(SurrogateInput input) {
        int count = source == null ? n : vocabulary.count(input.surrogateOf().apply(source));
        return "\n".repeat(count);
    }
}
