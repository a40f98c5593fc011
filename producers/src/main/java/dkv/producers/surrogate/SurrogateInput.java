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
 * @param generated   the text the generator workers wrote for this sample from a template (by name)
 */
public record SurrogateInput(Sample sample, SplittableRandom random, Corpus corpus, Function<String, String> surrogateOf,
        Function<String, String> generated) {

    /** Without generated texts: asking for one is an error naming the template. */
    public SurrogateInput(Sample sample, SplittableRandom random, Corpus corpus, Function<String, String> surrogateOf) {
        this(sample, random, corpus, surrogateOf, template -> {
            throw new IllegalStateException("no generated text for template '" + template + "' here: generated surrogates"
                    + " come from dkv generator workers through dkv produce");
        });
    }
}
