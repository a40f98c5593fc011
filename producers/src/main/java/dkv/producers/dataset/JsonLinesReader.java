package dkv.producers.dataset;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dkv.avro.Sample;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** One JSON object per line; a subclass turns each object into a Sample. Blank lines are ignored. */
abstract class JsonLinesReader extends LookaheadReader {
    private static final ObjectMapper JSON = new ObjectMapper();

    protected final String file;
    protected final String dataset;
    private final BufferedReader lines;
    private long lineNumber;

    JsonLinesReader(Path path, ReaderOptions options) {
        super(options);
        this.file = path.toString();
        this.dataset = DatasetFormat.datasetName(path);
        try {
            this.lines = Files.newBufferedReader(path, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open dataset " + path + ": " + e.getMessage(), e);
        }
    }

    protected abstract Optional<Sample> toSample(JsonNode record, long line);

    @Override
    protected final Optional<Sample> readRecord() {
        String line;
        do {
            try {
                line = lines.readLine();
            } catch (IOException e) {
                throw new UncheckedIOException(file + ":" + (lineNumber + 1) + ": cannot read: " + e.getMessage(), e);
            }
            if (line == null) {
                return null;
            }
            lineNumber++;
        } while (line.isBlank());
        JsonNode record;
        try {
            record = JSON.readTree(line);
        } catch (JacksonException e) {
            throw new BadRecordException(file, lineNumber, "<json>", "not valid JSON: " + JsonErrors.brief(e));
        }
        if (record == null || !record.isObject()) {
            throw new BadRecordException(file, lineNumber, "<json>", "expected one JSON object per line");
        }
        return toSample(record, lineNumber);
    }

    @Override
    public final void close() {
        try {
            lines.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close " + file, e);
        }
    }
}
