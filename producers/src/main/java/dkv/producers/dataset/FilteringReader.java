package dkv.producers.dataset;

import dkv.avro.Sample;
import java.util.NoSuchElementException;
import java.util.Optional;

/** A reader whose samples pass a {@link SampleFilter}; the dropped ones are counted in {@link ReadCounts#filtered()}. */
final class FilteringReader implements SampleReader {
    private final SampleReader inner;
    private final SampleFilter filter;
    private Sample next;

    FilteringReader(SampleReader inner, SampleFilter filter) {
        this.inner = inner;
        this.filter = filter;
    }

    @Override
    public boolean hasNext() {
        while (next == null && inner.hasNext()) {
            Optional<Sample> kept = filter.apply(inner.next());
            if (kept.isPresent()) next = kept.get();
            else inner.counts().countFiltered();
        }
        return next != null;
    }

    @Override
    public Sample next() {
        if (!hasNext()) throw new NoSuchElementException();
        Sample out = next;
        next = null;
        return out;
    }

    @Override
    public ReadCounts counts() {
        return inner.counts();
    }

    @Override
    public void close() {
        inner.close();
    }
}
