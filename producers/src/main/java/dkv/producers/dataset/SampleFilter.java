package dkv.producers.dataset;

import dkv.avro.Sample;
import java.util.Optional;

/** A selection applied to the samples a reader makes (a plan's data filter): keep, adjust or drop each. */
@FunctionalInterface
public interface SampleFilter {

    /** Every sample as read. */
    SampleFilter ALL = Optional::of;

    /** The sample as kept (e.g. with another of its passages scored), or empty to drop it. */
    Optional<Sample> apply(Sample sample);
}
