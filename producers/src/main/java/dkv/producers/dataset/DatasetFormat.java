package dkv.producers.dataset;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** The dataset shapes dkv reads directly, and how to tell them apart from the first record. */
public enum DatasetFormat {
    /** original MS MARCO JSON: one object of column dicts keyed by row index */
    MSMARCO_COLUMNS,
    /** MS MARCO one record per line: original v1.1 files and the HF datasets export */
    MSMARCO_JSONL,
    /** one {@code {id, query, passage, answer}} object per line */
    GENERIC_JSONL,
    /** MS MARCO v1.1/v2.1 as HF Parquet ({@code passages} a struct of lists), read through DuckDB */
    MSMARCO_PARQUET,
    /** Amazon ESCI: the examples Parquet joined with the products Parquet beside it (ranking samples) */
    ESCI,
    /** WANDS: label.csv, query.csv and product.csv in one directory (ranking samples) */
    WANDS;

    private static final ObjectMapper JSON = new ObjectMapper();

    public static DatasetFormat parse(String text) {
        return switch (text.trim().toLowerCase(Locale.ROOT).replace('-', '_')) {
            case "msmarco", "msmarco_columns", "columns" -> MSMARCO_COLUMNS;
            case "msmarco_jsonl", "msmarco_lines" -> MSMARCO_JSONL;
            case "jsonl", "generic", "generic_jsonl" -> GENERIC_JSONL;
            case "msmarco_parquet", "parquet" -> MSMARCO_PARQUET;
            case "esci" -> ESCI;
            case "wands" -> WANDS;
            default -> throw new IllegalArgumentException("unknown dataset format '" + text
                    + "' (expected msmarco-columns, msmarco-jsonl, jsonl, msmarco-parquet, esci or wands)");
        };
    }

    /** Opens a streaming reader of this format. */
    public SampleReader open(Path path, ReaderOptions options) {
        boolean directoryAllowed = this == ESCI || this == WANDS;
        if (!Files.isRegularFile(path) && !(directoryAllowed && Files.isDirectory(path))) {
            throw new IllegalArgumentException("dataset file not found: " + path);
        }
        if (!options.filters().isEmpty() && this != ESCI) {
            throw new IllegalArgumentException(path + ": dataset filters apply to ESCI only (got "
                    + String.join(", ", options.filters().keySet()) + ")");
        }
        return switch (this) {
            case MSMARCO_COLUMNS -> new MsMarcoColumnsReader(path, options);
            case MSMARCO_JSONL -> new MsMarcoJsonLinesReader(path, options);
            case GENERIC_JSONL -> new GenericJsonLinesReader(path, options);
            case MSMARCO_PARQUET -> new MsMarcoParquetReader(path, options);
            case ESCI -> new EsciReader(path, options);
            case WANDS -> new WandsReader(path, options);
        };
    }

    /**
     * Looks at the start of the file only: a first field whose value is a dict keyed by row index means
     * column dicts; otherwise the first line is one record, and {@code passage} vs {@code passages} tells
     * generic from MS MARCO.
     */
    public static DatasetFormat detect(Path path) {
        if (Files.isDirectory(path)) {
            if (Files.exists(path.resolve(EsciReader.EXAMPLES))) {
                return ESCI;
            }
            if (Files.exists(path.resolve(WandsReader.LABELS))) {
                return WANDS;
            }
            throw new IllegalArgumentException(path + ": a directory, but neither ESCI (" + EsciReader.EXAMPLES
                    + ") nor WANDS (" + WandsReader.LABELS + ") is in it");
        }
        if (!Files.isRegularFile(path)) {
            throw new IllegalArgumentException("dataset file not found: " + path);
        }
        String name = path.getFileName().toString();
        if (name.equals(EsciReader.EXAMPLES) || name.equals(EsciReader.PRODUCTS)) {
            return ESCI;
        }
        if (name.equals(WandsReader.LABELS) || name.equals(WandsReader.QUERIES) || name.equals(WandsReader.PRODUCTS)) {
            return WANDS;
        }
        if (name.endsWith(".parquet")) {
            return MSMARCO_PARQUET;
        }
        JsonFactory factory = JSON.getFactory();
        try (JsonParser parser = factory.createParser(Files.newInputStream(path))) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException(path + ":1: not a dataset dkv reads (expected a JSON object or JSON lines)");
            }
            if (parser.nextToken() == JsonToken.FIELD_NAME && parser.nextToken() == JsonToken.START_OBJECT
                    && parser.nextToken() == JsonToken.FIELD_NAME && parser.currentName().chars().allMatch(Character::isDigit)) {
                return MSMARCO_COLUMNS;
            }
        } catch (JacksonException e) {
            // a broken first record is reported with its line by the reader; guess from the first line below
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read dataset " + path + ": " + e.getMessage(), e);
        }
        try (BufferedReader lines = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            String line;
            do {
                line = lines.readLine();
            } while (line != null && line.isBlank());
            JsonNode first = line == null ? null : JSON.readTree(line);
            if (first != null && first.has("passage")) {
                return GENERIC_JSONL;
            }
            if (first != null && first.has("passages")) {
                return MSMARCO_JSONL;
            }
            throw new IllegalArgumentException(path + ": cannot tell the dataset format from the first record"
                    + " (expected 'passages' for MS MARCO or 'passage' for generic JSONL); pass --format");
        } catch (JacksonException e) {
            throw new IllegalArgumentException(path + ":1: first record is not valid JSON (" + JsonErrors.brief(e)
                    + "); pass --format to read past it with --skip-bad");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read dataset " + path + ": " + e.getMessage(), e);
        }
    }

    /** A dataset's name in Samples: the file name without its JSON or Parquet extension. */
    static String datasetName(Path path) {
        String name = path.getFileName().toString();
        for (String extension : new String[] {".jsonl", ".json", ".ndjson", ".parquet"}) {
            if (name.endsWith(extension)) {
                return name.substring(0, name.length() - extension.length());
            }
        }
        return name;
    }
}
