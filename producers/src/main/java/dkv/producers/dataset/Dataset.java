package dkv.producers.dataset;

import java.nio.file.Path;
import java.util.Optional;

/** A dataset file, its format (given or detected) and the reading options: open it as often as needed. */
public record Dataset(Path path, DatasetFormat format, ReaderOptions options) {

    public static Dataset of(Path path, Optional<DatasetFormat> format, ReaderOptions options) {
        return new Dataset(path, format.orElseGet(() -> DatasetFormat.detect(path)), options);
    }

    /** A fresh streaming pass over the file. */
    public SampleReader open() {
        return format.open(path, options);
    }
}
