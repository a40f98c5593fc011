package dkv.producers.surrogate;

import dkv.avro.Sample;
import dkv.producers.corpus.Corpus;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * Everything a generator may look at.
 *
 * @param sample      the sample being expanded
 * @param random      private to (plan seed, sample id, condition name)
 * @param corpus      dataset-wide statistics and donors
 * @param surrogateOf surrogate text of another condition of the same sample (materialized earlier)
 */
public record SurrogateInput(Sample sample, SplittableRandom random, Corpus corpus, Function<String, String> surrogateOf) {}
