package dkv.producers.dataset;

import dkv.avro.Candidate;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Amazon ESCI (Shopping Queries Dataset): {@code shopping_queries_dataset_examples.parquet} joined with
 * {@code shopping_queries_dataset_products.parquet} on (product_locale, product_id) in one SQL query, one ranking
 * Sample per query. A candidate's document is the product's title, description and bullet points; its relevance
 * is the ESCI gain E/S/C/I → 1/0.1/0.01/0 (label kept). Filters (ReaderOptions.filters): {@code small_version},
 * {@code split}, {@code product_locale}, compared with the column's text ({@code small_version=1}, {@code split=test},
 * {@code product_locale=us}). Line numbers in errors are rows (1-based) of the examples file.
 */
final class EsciReader extends CandidateRowsReader {
    static final String EXAMPLES = "shopping_queries_dataset_examples.parquet";
    static final String PRODUCTS = "shopping_queries_dataset_products.parquet";
    static final Set<String> FILTERS = Set.of("small_version", "split", "product_locale");
    private static final Map<String, Double> GAINS = Map.of("E", 1.0, "S", 0.1, "C", 0.01, "I", 0.0);

    private final String examples;
    private final String products;

    EsciReader(Path path, ReaderOptions options) {
        super(examplesFile(path).toString(), "esci", options);
        Path examples = examplesFile(path);
        this.examples = examples.toString();
        Path productsPath = examples.resolveSibling(PRODUCTS);
        this.products = productsPath.toString();
        try {
            ParquetFile.require(examples);
            ParquetFile.require(productsPath);
            for (String filter : options.filters().keySet()) {
                if (!FILTERS.contains(filter)) {
                    throw new IllegalArgumentException(this.examples + ": unknown ESCI filter '" + filter
                            + "' (known: product_locale, small_version, split)");
                }
            }
            Map<String, String> columns = duck().columns("read_parquet(?)", List.of(this.examples));
            DuckDb.require(columns, this.examples, Map.of("query_id", "", "query", "VARCHAR", "product_id", "VARCHAR",
                    "product_locale", "VARCHAR", "esci_label", "VARCHAR"));
            for (String filter : options.filters().keySet()) {
                DuckDb.require(columns, this.examples, Map.of(filter, ""));
            }
            DuckDb.require(duck().columns("read_parquet(?)", List.of(products)), products, Map.of(
                    "product_id", "VARCHAR", "product_locale", "VARCHAR", "product_title", "VARCHAR",
                    "product_description", "VARCHAR", "product_bullet_point", "VARCHAR"));
            List<Object> parameters = new ArrayList<>(List.of(this.examples, products));
            StringBuilder where = new StringBuilder();
            options.filters().forEach((column, value) -> {
                where.append(where.isEmpty() ? " WHERE " : " AND ").append("CAST(e.\"").append(column).append("\" AS VARCHAR) = ?");
                parameters.add(value);
            });
            open(duck().query("""
                    SELECT coalesce(CAST(e.query_id AS VARCHAR), '') AS query_id, e.query, e.product_id, e.product_locale,
                           e.esci_label, p.product_id IS NOT NULL AS known_product, p.product_title,
                           p.product_description, p.product_bullet_point, e.file_row_number + 1 AS line
                    FROM read_parquet(?, file_row_number = true) e
                    LEFT JOIN read_parquet(?) p ON p.product_locale = e.product_locale AND p.product_id = e.product_id
                    """ + where + " ORDER BY e.query_id, e.product_id", parameters));
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The examples file, given it, the products file beside it, or the directory holding both. */
    static Path examplesFile(Path path) {
        if (Files.isDirectory(path)) {
            return path.resolve(EXAMPLES);
        }
        return path.getFileName().toString().equals(PRODUCTS) ? path.resolveSibling(EXAMPLES) : path;
    }

    @Override
    protected Row row(ResultSet row, String queryId) throws SQLException {
        long line = row.getLong("line");
        if (queryId.isEmpty()) {
            throw new BadRecordException(examples, line, "query_id", "missing");
        }
        String query = row.getString("query");
        if (query == null || query.isBlank()) {
            throw new BadRecordException(examples, line, "query", "missing");
        }
        String productId = row.getString("product_id");
        if (productId == null || productId.isBlank()) {
            throw new BadRecordException(examples, line, "product_id", "missing");
        }
        String label = row.getString("esci_label");
        Double gain = label == null ? null : GAINS.get(label);
        if (gain == null) {
            throw new BadRecordException(examples, line, "esci_label", "expected E, S, C or I, found " + label);
        }
        if (!row.getBoolean("known_product")) {
            throw new BadRecordException(examples, line, "product_id", "no product " + productId + " (locale "
                    + row.getString("product_locale") + ") in " + products);
        }
        String document = document(row.getString("product_title"), row.getString("product_description"),
                row.getString("product_bullet_point"));
        if (document.isEmpty()) {
            throw new BadRecordException(examples, line, "product_id", "product " + productId
                    + " has no title, description or bullet points in " + products);
        }
        return new Row(queryId, query, new Candidate(productId, document, gain, label), line);
    }
}
