package dkv.producers.surrogate;

import java.util.Collections;
import java.util.Set;

/**
 * A surrogate an instruction model wrote. With {@code template} (a name from the plan's {@code generation} block, or
 * {@code routed}) the text comes from the generator workers through {@code dkv.surrogates}, joined by the producer
 * ({@link SurrogateInput#generated()}); {@code repeat} writes it that many times (v3 exp 05's ×4). Without a template
 * it is read from a file, like {@code paraphrase} ({@link FileSurrogate}).
 */
public final class GeneratedSurrogate implements SurrogateGenerator {
    public static final SurrogateKind KIND = SurrogateKind.of("generated", Set.of("file", "field", "template", "repeat"), false,
            false, (params, resources) -> {
                if (params.text("template").isEmpty()) {
                    if (params.values().containsKey("repeat")) {
                        throw new IllegalArgumentException(params.path() + ".repeat: only with 'template'");
                    }
                    return FileSurrogate.GENERATED_FILE.create(params, resources);
                }
                if (params.text("file").isPresent() || params.text("field").isPresent()) {
                    throw new IllegalArgumentException(params.path() + ".template: a generated surrogate comes from the"
                            + " generator workers (template) or from a file, not both");
                }
                int repeat = params.count("repeat", 1);
                if (repeat > 10) {
                    throw new IllegalArgumentException(params.path() + ".repeat: expected an integer from 1 to 10, found " + repeat);
                }
                return new GeneratedSurrogate(params.requiredText("template"), repeat);
            });

    private final String template;
    private final int repeat;

    private GeneratedSurrogate(String template, int repeat) {
        this.template = template;
        this.repeat = repeat;
    }

    /** The template a condition reads its generated text from, if it reads one from the generator workers. */
    public static java.util.Optional<String> template(SurrogateParams params) {
        return params.text("template");
    }

    @Override
    public String generate(SurrogateInput input) {
        return String.join(" ", Collections.nCopies(repeat, input.generated().apply(template)));
    }
}
