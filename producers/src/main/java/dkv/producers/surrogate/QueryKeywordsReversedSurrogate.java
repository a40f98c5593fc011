package dkv.producers.surrogate;

import dkv.producers.corpus.Terms;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The research's v3 "paraphrase proxy": the query's keywords (stop words and words of at most two characters left
 * out, each once) in reverse order: the query's content words without its syntax, a cheap stand-in for an LLM
 * paraphrase.
 */
public final class QueryKeywordsReversedSurrogate implements SurrogateGenerator {
    public static final SurrogateKind KIND = SurrogateKind.of("query_keywords_reversed", Set.of(), false, false,
            (params, resources) -> new QueryKeywordsReversedSurrogate());

    @Override
    public String generate(SurrogateInput input) {
        Set<String> words = new LinkedHashSet<>();
        for (String term : Terms.of(input.sample().getQuery())) {
            if (term.length() > 2) words.add(term);
        }
        List<String> reversed = new ArrayList<>(words);
        java.util.Collections.reverse(reversed);
        return String.join(" ", reversed);
    }
}
