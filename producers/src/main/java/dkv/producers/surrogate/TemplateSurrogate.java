package dkv.producers.surrogate;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A question built from the document's keywords: the {@code surrogate} template (default
 * "What is {keyword}?") with {@code {keyword}} = the top TF-IDF keyword and {@code {keywords}} = the top k
 * (default 3), space-separated.
 */
public final class TemplateSurrogate implements SurrogateGenerator {
    public static final String DEFAULT_TEMPLATE = "What is {keyword}?";
    public static final SurrogateKind KIND = SurrogateKind.of("template", Set.of("k"), true, true,
            (params, resources) -> {
                String template = params.template().orElse(DEFAULT_TEMPLATE);
                Placeholders.check(template, Set.of("keyword", "keywords"), params.path());
                return new TemplateSurrogate(template, params.count("k", 3));
            });

    private final String template;
    private final int k;

    public TemplateSurrogate(String template, int k) {
        this.template = template;
        this.k = k;
    }

    @Override
    public String generate(SurrogateInput input) {
        List<String> top = Keywords.top(input.sample().getPassage(), input.corpus().frequencies(), k);
        String first = top.isEmpty() ? "this" : top.getFirst();
        return Placeholders.fill(template, Map.of("keyword", first, "keywords", String.join(" ", top)));
    }
}
