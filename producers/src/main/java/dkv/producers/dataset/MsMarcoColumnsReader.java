package dkv.producers.dataset;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.avro.Sample;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The original MS MARCO JSON: one object of column dicts, {@code {"query": {"0": ..., "1": ...},
 * "passages": {"0": [...], ...}, "answers": {...}, ...}}. The columns lie one after the other, so a row's
 * fields are far apart in the file. Instead of loading the file, a first pass notes where each column's
 * dict starts (skipping its contents token by token); then one parser per column reads the columns in
 * lockstep, so memory holds one row, whatever the file size.
 */
final class MsMarcoColumnsReader extends LookaheadReader {
    private static final JsonFactory FACTORY = new ObjectMapper().getFactory();
    private static final List<String> REQUIRED = List.of("query", "answers", "passages");
    private static final List<String> OPTIONAL = List.of("query_id", "query_type");

    private final String file;
    private final String dataset;
    private final Map<String, Column> columns = new LinkedHashMap<>();

    MsMarcoColumnsReader(Path path, ReaderOptions options) {
        super(options);
        this.file = path.toString();
        this.dataset = DatasetFormat.datasetName(path);
        Map<String, long[]> starts = locateColumns(path);
        try {
            for (String name : REQUIRED) {
                if (!starts.containsKey(name)) {
                    throw new BadRecordException(file, 1, name, "column missing (found " + starts.keySet() + ")");
                }
            }
            for (String name : starts.keySet()) {
                if (REQUIRED.contains(name) || OPTIONAL.contains(name)) {
                    long[] start = starts.get(name);
                    columns.put(name, new Column(name, path, start[0], start[1]));
                }
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** First pass: byte offset and line of each column's dict, found without materializing any column. */
    private Map<String, long[]> locateColumns(Path path) {
        Map<String, long[]> starts = new LinkedHashMap<>();
        try (InputStream in = new BufferedInputStream(java.nio.file.Files.newInputStream(path), 1 << 16);
                JsonParser parser = FACTORY.createParser(in)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                throw new BadRecordException(file, parser.currentTokenLocation().getLineNr(), "<json>",
                        "expected one JSON object of column dicts");
            }
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String column = parser.currentName();
                JsonToken value = parser.nextToken();
                if (value == JsonToken.START_OBJECT) {
                    starts.put(column, new long[] {parser.currentTokenLocation().getByteOffset(),
                            parser.currentTokenLocation().getLineNr()});
                } else if (REQUIRED.contains(column) || OPTIONAL.contains(column)) {
                    throw new BadRecordException(file, parser.currentTokenLocation().getLineNr(), column,
                            "expected a dict keyed by row index, found " + value);
                }
                parser.skipChildren();
            }
        } catch (JacksonException e) {
            throw new BadRecordException(file, e.getLocation() == null ? 0 : e.getLocation().getLineNr(), "<json>",
                    "not valid JSON: " + JsonErrors.brief(e));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read dataset " + path + ": " + e.getMessage(), e);
        }
        return starts;
    }

    @Override
    protected Optional<Sample> readRecord() {
        ObjectNode row = JsonNodeFactory.instance.objectNode();
        Map<String, Long> lines = new LinkedHashMap<>();
        String key = null;
        for (Column column : columns.values()) {
            String columnKey = column.nextKey();
            if (key == null && columnKey == null) {
                continue;
            }
            if (columnKey == null || (key != null && !key.equals(columnKey))) {
                throw new IllegalStateException(file + ":" + column.line() + ": column '" + column.name
                        + "' is out of step with the others at row " + (key == null ? columnKey : key)
                        + " (columns must list the same row keys in the same order)");
            }
            key = columnKey;
            lines.put(column.name, column.line());
            row.set(column.name, column.value());
        }
        if (key == null) {
            return null;
        }
        return MsMarcoRecords.toSample(row, dataset, key, options, counts, file, field -> lines.getOrDefault(field, 0L));
    }

    @Override
    public void close() {
        for (Column column : columns.values()) {
            column.close();
        }
    }

    /** A parser positioned inside one column's dict, yielding (row key, value) pairs in file order. */
    private final class Column {
        private final String name;
        private final long baseLine;
        private final FileChannel channel;
        private final JsonParser parser;

        Column(String name, Path path, long offset, long line) {
            this.name = name;
            this.baseLine = line;
            try {
                this.channel = FileChannel.open(path, StandardOpenOption.READ);
                channel.position(offset);
                this.parser = FACTORY.createParser(new BufferedInputStream(Channels.newInputStream(channel), 1 << 16));
                if (parser.nextToken() != JsonToken.START_OBJECT) {
                    throw new IllegalStateException(file + ": column '" + name + "' moved while reading");
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read dataset " + path + ": " + e.getMessage(), e);
            }
        }

        /** the next row key, or null after the column's last row */
        String nextKey() {
            try {
                JsonToken token = parser.nextToken();
                if (token == JsonToken.END_OBJECT) {
                    return null;
                }
                return parser.currentName();
            } catch (JacksonException e) {
                throw new IllegalStateException(file + ":" + line() + ": column '" + name + "' is not valid JSON: "
                        + JsonErrors.brief(e), e);
            } catch (IOException e) {
                throw new UncheckedIOException(file + ": cannot read column '" + name + "'", e);
            }
        }

        JsonNode value() {
            try {
                parser.nextToken();
                return parser.readValueAsTree();
            } catch (JacksonException e) {
                throw new IllegalStateException(file + ":" + line() + ": column '" + name + "' is not valid JSON: "
                        + JsonErrors.brief(e), e);
            } catch (IOException e) {
                throw new UncheckedIOException(file + ": cannot read column '" + name + "'", e);
            }
        }

        /** line in the file (the parser counts from where it was positioned) */
        long line() {
            return baseLine + parser.currentTokenLocation().getLineNr() - 1;
        }

        void close() {
            try {
                parser.close();
                channel.close();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot close " + file, e);
            }
        }
    }
}
