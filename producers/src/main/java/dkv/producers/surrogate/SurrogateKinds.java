package dkv.producers.surrogate;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Every surrogate kind a plan may name. Adding a kind: write its generator class and list its KIND here. */
public final class SurrogateKinds {
    private static final List<SurrogateKind> ALL = List.of(
            OracleSurrogate.KIND,
            StaticSurrogate.KIND,
            KeywordsSurrogate.KIND,
            TemplateSurrogate.KIND,
            RandomTokensSurrogate.KIND,
            ShuffledSurrogate.KIND,
            IrrelevantSurrogate.KIND,
            RandomPassageSurrogate.KIND,
            LeadSentenceSurrogate.KIND,
            RepeatedWordSurrogate.KIND,
            RandomWordSurrogate.KIND,
            PaddingSurrogate.KIND,
            FrequentWordsSurrogate.KIND,
            QueryKeywordsReversedSurrogate.KIND,
            FileSurrogate.PARAPHRASE,
            GeneratedSurrogate.KIND);

    private static final Map<String, SurrogateKind> BY_NAME = new LinkedHashMap<>();

    static {
        for (SurrogateKind kind : ALL) {
            if (BY_NAME.put(kind.name(), kind) != null) {
                throw new IllegalStateException("surrogate kind listed twice: " + kind.name());
            }
        }
    }

    private SurrogateKinds() {}

    public static Optional<SurrogateKind> find(String name) {
        return Optional.ofNullable(BY_NAME.get(name));
    }

    public static List<String> names() {
        return List.copyOf(BY_NAME.keySet());
    }
}
