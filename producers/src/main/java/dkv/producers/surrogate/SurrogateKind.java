package dkv.producers.surrogate;

import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * One kind of surrogate as a plan names it: its parameters and how to build its generator. Each generator
 * class declares its kind in a {@code KIND} constant; {@link SurrogateKinds} lists them.
 *
 * @param name         the plan's {@code surrogate_kind}
 * @param params       parameter keys the kind accepts
 * @param usesTemplate whether the condition's {@code surrogate} text is the kind's template
 * @param usesCorpus   whether the kind reads dataset statistics or donors (needs the first pass)
 * @param references   names of the other conditions whose surrogates the kind reads
 * @param factory      builds the generator once per plan
 */
public record SurrogateKind(String name, Set<String> params, boolean usesTemplate, boolean usesCorpus,
        Function<SurrogateParams, List<String>> references, Factory factory) {

    @FunctionalInterface
    public interface Factory {
        SurrogateGenerator create(SurrogateParams params, GeneratorResources resources);
    }

    public static SurrogateKind of(String name, Set<String> params, boolean usesTemplate, boolean usesCorpus, Factory factory) {
        return new SurrogateKind(name, params, usesTemplate, usesCorpus, p -> List.of(), factory);
    }

    /** Checks the parameters and builds the generator. */
    public SurrogateGenerator create(SurrogateParams params, GeneratorResources resources) {
        params.allowOnly(name, usesTemplate, params());
        return factory.create(params, resources);
    }
}
