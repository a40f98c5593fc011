package dkv.producers.surrogate;

import java.util.Collections;
import java.util.Set;

/** One word repeated: "the" ten times by default ({@code word}, {@code n}); a content-free control of surrogate length. */
public final class RepeatedWordSurrogate implements SurrogateGenerator {
    public static final SurrogateKind KIND = SurrogateKind.of("repeat", Set.of("word", "n"), false, false,
            (params, resources) -> {
                String word = params.text("word").orElse("the").strip();
                if (word.isEmpty() || word.contains(" ")) {
                    throw new IllegalArgumentException(params.path() + ".word: must be one word, got '" + word + "'");
                }
                return new RepeatedWordSurrogate(word, params.count("n", 10));
            });

    private final String text;

    public RepeatedWordSurrogate(String word, int n) {
        this.text = String.join(" ", Collections.nCopies(n, word));
    }

    @Override
    public String generate(SurrogateInput input) {
        return text;
    }
}
