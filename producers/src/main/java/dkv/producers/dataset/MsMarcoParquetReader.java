package dkv.producers.dataset;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dkv.avro.Sample;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * MS MARCO v1.1/v2.1 as the HF hub publishes it ({@code microsoft/ms_marco}): Parquet with {@code passages} a struct
 * of lists {@code {is_selected: [...], passage_text: [...], url: [...]}}, plus {@code answers}, {@code query},
 * {@code query_id}, {@code query_type}. DuckDB streams each row as JSON — the shape of the HF JSON-lines export —
 * and {@link MsMarcoRecords} makes the Sample, so every MS MARCO file shape follows the same answer and passage
 * rules. Errors name the file, the row (1-based) and the column.
 */
final class MsMarcoParquetReader extends LookaheadReader {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> REQUIRED = List.of("query", "answers", "passages");
    private static final List<String> OPTIONAL = List.of("query_id", "query_type", "wellFormedAnswers");

    private final String file;
    private final String dataset;
    private final DuckDb duck;
    private final ResultSet rows;

    MsMarcoParquetReader(Path path, ReaderOptions options) {
        super(options);
        ParquetFile.require(path);
        this.file = path.toString();
        this.dataset = DatasetFormat.datasetName(path);
        this.duck = new DuckDb(file);
        try {
            Map<String, String> columns = duck.columns("read_parquet(?)", List.of(file));
            for (String column : REQUIRED) {
                DuckDb.require(columns, file, Map.of(column, ""));
            }
            // only the columns the Sample reads, as one JSON object per row
            String fields = java.util.stream.Stream.concat(REQUIRED.stream(), OPTIONAL.stream().filter(columns::containsKey))
                    .map(c -> "'" + c + "': \"" + c + "\"").collect(Collectors.joining(", "));
            this.rows = duck.query("SELECT file_row_number, to_json({" + fields + "})::VARCHAR AS record"
                    + " FROM read_parquet(?, file_row_number = true)", List.of(file));
        } catch (RuntimeException e) {
            duck.close();
            throw e;
        }
    }

    @Override
    protected Optional<Sample> readRecord() {
        long row;
        String json;
        try {
            if (!rows.next()) {
                return null;
            }
            row = rows.getLong(1) + 1;
            json = rows.getString(2);
        } catch (SQLException e) {
            throw new IllegalStateException(file + ": cannot read: " + DuckDb.brief(e), e);
        }
        JsonNode record;
        try {
            record = JSON.readTree(json);
        } catch (JacksonException e) {
            throw new IllegalStateException(file + ":" + row + ": DuckDB wrote invalid JSON: " + JsonErrors.brief(e), e);
        }
        return MsMarcoRecords.toSample(record, dataset, "row-" + row, options, counts, file, field -> row);
    }

    @Override
    public void close() {
        try {
            rows.close();
        } catch (SQLException e) {
            throw new IllegalStateException(file + ": cannot close: " + DuckDb.brief(e), e);
        } finally {
            duck.close();
        }
    }
}
