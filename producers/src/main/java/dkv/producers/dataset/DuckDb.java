package dkv.producers.dataset;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * An in-memory DuckDB that streams result sets (rows are produced as the caller reads them, not materialized
 * first), for SQL over dataset files. Messages from DuckDB keep their first line only: the rest is a caret
 * diagram of the generated SQL, which names nothing the user wrote.
 */
final class DuckDb implements AutoCloseable {
    private final Connection connection;
    private final String file;

    /** {@code file} names the dataset in every error. */
    DuckDb(String file) {
        this.file = file;
        Properties properties = new Properties();
        properties.setProperty("jdbc_stream_results", "true");
        try {
            this.connection = DriverManager.getConnection("jdbc:duckdb:", properties);
        } catch (SQLException e) {
            throw new IllegalStateException(file + ": cannot start DuckDB: " + brief(e), e);
        }
    }

    /** Column name → DuckDB type of what {@code relation} (e.g. {@code read_parquet(?)}) yields. */
    Map<String, String> columns(String relation, List<Object> parameters) {
        Map<String, String> columns = new LinkedHashMap<>();
        try (ResultSet rows = query("DESCRIBE SELECT * FROM " + relation, parameters)) {
            while (rows.next()) {
                columns.put(rows.getString("column_name"), rows.getString("column_type"));
            }
        } catch (SQLException e) {
            throw new IllegalArgumentException(file + ": " + brief(e), e);
        }
        return columns;
    }

    /** Runs a query; the caller closes the result set (which closes its statement). */
    ResultSet query(String sql, List<Object> parameters) {
        try {
            PreparedStatement statement = connection.prepareStatement(sql);
            statement.closeOnCompletion();
            for (int i = 0; i < parameters.size(); i++) {
                statement.setObject(i + 1, parameters.get(i));
            }
            return statement.executeQuery();
        } catch (SQLException e) {
            throw new IllegalArgumentException(file + ": " + brief(e), e);
        }
    }

    /**
     * Requires each column to exist with a type that starts as given ("VARCHAR", "STRUCT("; "" accepts any type);
     * the message names the file and the column.
     */
    static void require(Map<String, String> columns, String file, Map<String, String> expected) {
        expected.forEach((column, type) -> {
            String found = columns.get(column);
            if (found == null) {
                throw new IllegalArgumentException(file + ": column '" + column + "' missing (found: "
                        + String.join(", ", columns.keySet()) + ")");
            }
            if (!found.startsWith(type)) {
                throw new IllegalArgumentException(file + ": column '" + column + "': expected " + type
                        + (type.endsWith("(") ? "...)" : "") + ", found " + found);
            }
        });
    }

    static String brief(SQLException e) {
        String message = e.getMessage() == null ? e.toString() : e.getMessage();
        int newline = message.indexOf('\n');
        return (newline < 0 ? message : message.substring(0, newline)).strip();
    }

    @Override
    public void close() {
        try {
            connection.close();
        } catch (SQLException e) {
            throw new IllegalStateException(file + ": cannot close DuckDB: " + brief(e), e);
        }
    }
}
