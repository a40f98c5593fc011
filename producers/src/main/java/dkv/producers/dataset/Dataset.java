package dkv.producers.dataset;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A dataset file, its format (given or detected), the reading options and the samples kept (a plan's data filter):
 * open it as often as needed.
 */
public record Dataset(Path path, DatasetFormat format, ReaderOptions options, SampleFilter filter) {

    public Dataset(Path path, DatasetFormat format, ReaderOptions options) {
        this(path, format, options, SampleFilter.ALL);
    }

    public static Dataset of(Path path, Optional<DatasetFormat> format, ReaderOptions options) {
        return new Dataset(path, format.orElseGet(() -> DatasetFormat.detect(path)), options);
    }

    /** The same file whose samples also pass {@code more}. */
    public Dataset filtered(SampleFilter more) {
        if (more == SampleFilter.ALL) return this;
        SampleFilter before = filter;
        return new Dataset(path, format, options, before == SampleFilter.ALL ? more : s -> before.apply(s).flatMap(more::apply));
    }

    /** A fresh streaming pass over the file. */
    public SampleReader open() {
        SampleReader reader = format.open(path, options);
        return filter == SampleFilter.ALL ? reader : new FilteringReader(reader, filter);
    }
}
