package dkv.producers.dataset;

import dkv.avro.Candidate;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;

/**
 * WANDS (Wayfair ANnotation DataSet): {@code label.csv} joined with {@code query.csv} and {@code product.csv} in one
 * SQL query, one ranking Sample per query. The files are tab-separated with a header (product.csv's has
 * {@code category hierarchy}, with a space) and double-quoted fields. A candidate's document is the product's name
 * and description; its relevance is Exact/Partial/Irrelevant → 2/1/0 (label kept). Line numbers in errors are lines
 * of label.csv (header = line 1).
 */
final class WandsReader extends CandidateRowsReader {
    static final String LABELS = "label.csv";
    static final String QUERIES = "query.csv";
    static final String PRODUCTS = "product.csv";
    private static final Map<String, Double> GAINS = Map.of("Exact", 2.0, "Partial", 1.0, "Irrelevant", 0.0);
    /** Every column as text (ids are compared as written); one thread so row numbers follow the file. */
    private static final String CSV = "read_csv(?, delim = '\\t', header = true, quote = '\"', escape = '\"',"
            + " all_varchar = true, parallel = false)";

    private final String labels;

    WandsReader(Path path, ReaderOptions options) {
        super(directory(path).resolve(LABELS).toString(), "wands", options);
        Path dir = directory(path);
        this.labels = dir.resolve(LABELS).toString();
        String queries = dir.resolve(QUERIES).toString();
        String products = dir.resolve(PRODUCTS).toString();
        try {
            for (String file : List.of(labels, queries, products)) {
                if (!Files.isRegularFile(Path.of(file))) {
                    throw new IllegalArgumentException("WANDS file not found: " + file
                            + " (label.csv, query.csv and product.csv belong in one directory)");
                }
            }
            DuckDb.require(duck().columns(CSV, List.of(labels)), labels, Map.of("query_id", "", "product_id", "", "label", ""));
            DuckDb.require(duck().columns(CSV, List.of(queries)), queries, Map.of("query_id", "", "query", ""));
            DuckDb.require(duck().columns(CSV, List.of(products)), products, Map.of("product_id", "", "product_name", "",
                    "product_description", "", "category hierarchy", ""));
            open(duck().query("WITH l AS (SELECT *, row_number() OVER () + 1 AS line FROM " + CSV + ")"
                    + " SELECT coalesce(l.query_id, '') AS query_id, q.query, q.query_id IS NOT NULL AS known_query,"
                    + " l.product_id, l.label, p.product_id IS NOT NULL AS known_product, p.product_name,"
                    + " p.product_description, l.line"
                    + " FROM l LEFT JOIN " + CSV + " q ON q.query_id = l.query_id"
                    + " LEFT JOIN " + CSV + " p ON p.product_id = l.product_id"
                    + " ORDER BY TRY_CAST(l.query_id AS BIGINT), l.query_id, TRY_CAST(l.product_id AS BIGINT), l.product_id",
                    List.of(labels, queries, products)));
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The directory holding the three files, given it or one of them. */
    static Path directory(Path path) {
        return Files.isDirectory(path) ? path : path.toAbsolutePath().getParent();
    }

    @Override
    protected Row row(ResultSet row, String queryId) throws SQLException {
        long line = row.getLong("line");
        if (queryId.isBlank()) {
            throw new BadRecordException(labels, line, "query_id", "missing");
        }
        if (!row.getBoolean("known_query")) {
            throw new BadRecordException(labels, line, "query_id", "no query " + queryId + " in " + QUERIES);
        }
        String query = row.getString("query");
        if (query == null || query.isBlank()) {
            throw new BadRecordException(labels, line, "query_id", "query " + queryId + " is empty in " + QUERIES);
        }
        String productId = row.getString("product_id");
        if (productId == null || productId.isBlank()) {
            throw new BadRecordException(labels, line, "product_id", "missing");
        }
        if (!row.getBoolean("known_product")) {
            throw new BadRecordException(labels, line, "product_id", "no product " + productId + " in " + PRODUCTS);
        }
        String label = row.getString("label");
        Double gain = label == null ? null : GAINS.get(label);
        if (gain == null) {
            throw new BadRecordException(labels, line, "label", "expected Exact, Partial or Irrelevant, found " + label);
        }
        String document = document(row.getString("product_name"), row.getString("product_description"));
        if (document.isEmpty()) {
            throw new BadRecordException(labels, line, "product_id", "product " + productId
                    + " has no name or description in " + PRODUCTS);
        }
        return new Row(queryId, query, new Candidate(productId, document, gain, label), line);
    }
}
