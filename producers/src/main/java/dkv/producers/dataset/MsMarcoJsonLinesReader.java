package dkv.producers.dataset;

import com.fasterxml.jackson.databind.JsonNode;
import dkv.avro.Sample;
import java.nio.file.Path;
import java.util.Optional;

/**
 * MS MARCO as JSON lines: the original v1.1 files (passages a list of objects) and the HF {@code datasets}
 * export of the hub copy (passages a struct of lists) alike.
 */
final class MsMarcoJsonLinesReader extends JsonLinesReader {
    MsMarcoJsonLinesReader(Path path, ReaderOptions options) {
        super(path, options);
    }

    @Override
    protected Optional<Sample> toSample(JsonNode record, long line) {
        return MsMarcoRecords.toSample(record, dataset, "line-" + line, options, counts, file, field -> line);
    }
}
