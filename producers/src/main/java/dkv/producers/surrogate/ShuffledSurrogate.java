package dkv.producers.surrogate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * The words of another condition's surrogate (parameter {@code of}: that condition's name) in a seeded
 * random order (Fisher-Yates): same words, no syntax. Contrasted with its source, it tells content from
 * word order. A uniform shuffle may return the original order; that is part of the null it models.
 */
public final class ShuffledSurrogate implements SurrogateGenerator {
    public static final SurrogateKind KIND = new SurrogateKind("shuffled", Set.of("of"), false, false,
            params -> List.of(params.requiredText("of")),
            (params, resources) -> new ShuffledSurrogate(params.requiredText("of")));

    private final String source;

    public ShuffledSurrogate(String source) {
        this.source = source;
    }

    @Override
    public String generate(SurrogateInput input) {
        String text = input.surrogateOf().apply(source).strip();
        if (text.isEmpty()) {
            return text;
        }
        List<String> words = new ArrayList<>(Arrays.asList(text.split("\\s+")));
        for (int i = words.size() - 1; i > 0; i--) {
            int j = input.random().nextInt(i + 1);
            words.set(j, words.set(i, words.get(j)));
        }
        return String.join(" ", words);
    }
}
