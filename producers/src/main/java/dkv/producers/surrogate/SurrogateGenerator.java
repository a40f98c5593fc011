package dkv.producers.surrogate;

/**
 * Materializes one condition's surrogate text for one sample. Implementations are deterministic: every
 * random choice comes from {@link SurrogateInput#random()}, which is seeded by (plan seed, sample id,
 * condition name).
 */
@FunctionalInterface
public interface SurrogateGenerator {
    String generate(SurrogateInput input);
}
