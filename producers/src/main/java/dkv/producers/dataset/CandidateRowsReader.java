package dkv.producers.dataset;

import dkv.avro.Candidate;
import dkv.avro.Sample;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A ranking dataset read with one SQL query whose rows are (query, candidate) pairs ordered by query id: the
 * consecutive rows of a query become one Sample whose candidates are scored in place of a passage. Such samples
 * have no gold answer and no scored passage (both empty): their conditions score the query (query likelihood).
 * A malformed row spoils its whole query (a ranking missing a candidate would be a different ranking), so with
 * skip-bad the query is skipped, and without it the first bad row is reported once the query has been read.
 */
abstract class CandidateRowsReader extends LookaheadReader {
    /** One row: the query it belongs to, its text, one candidate, and where it is in the input for messages. */
    protected record Row(String queryId, String query, Candidate candidate, long line) {}

    protected final String dataset;
    private final DuckDb duck;
    private final String file;
    private ResultSet rows;
    private boolean started;
    private boolean exhausted;

    CandidateRowsReader(String file, String dataset, ReaderOptions options) {
        super(options);
        this.file = file;
        this.dataset = dataset;
        this.duck = new DuckDb(file);
    }

    /** The ordered rows to group, from a query on {@link #duck()}; subclasses set them once, in their constructor. */
    protected final void open(ResultSet orderedRows) {
        this.rows = orderedRows;
    }

    protected final DuckDb duck() {
        return duck;
    }

    /** The query a row belongs to: every reader's SQL names that column {@code query_id}. */
    protected String queryId(ResultSet row) throws SQLException {
        return row.getString("query_id");
    }

    /** The current row as a candidate of its query, or a BadRecordException naming file, line and column. */
    protected abstract Row row(ResultSet row, String queryId) throws SQLException;

    @Override
    protected final Optional<Sample> readRecord() {
        if (!started) {
            started = true;
            exhausted = !advance();
        }
        if (exhausted) {
            return null;
        }
        String id = currentQueryId();
        List<Candidate> candidates = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        String query = null;
        BadRecordException bad = null;
        do {
            try {
                Row row = row(rows, id);
                if (!seen.add(row.candidate().getId())) {
                    throw new BadRecordException(file, row.line(), "candidate", "query " + id + " lists candidate "
                            + row.candidate().getId() + " twice");
                }
                query = row.query();
                candidates.add(row.candidate());
            } catch (BadRecordException e) {
                bad = bad == null ? e : bad;
            } catch (SQLException e) {
                throw new IllegalStateException(file + ": cannot read: " + DuckDb.brief(e), e);
            }
            exhausted = !advance();
        } while (!exhausted && currentQueryId().equals(id));
        if (bad != null) {
            throw bad;
        }
        return Optional.of(Sample.newBuilder()
                .setId(id)
                .setDataset(dataset)
                .setQuery(query)
                .setPassage("")
                .setAnswer("")
                .setPassages(List.of())
                .setQueryType(null)
                .setExtra(new HashMap<>())
                .setCandidates(candidates)
                .build());
    }

    private boolean advance() {
        try {
            return rows.next();
        } catch (SQLException e) {
            throw new IllegalStateException(file + ": cannot read: " + DuckDb.brief(e), e);
        }
    }

    private String currentQueryId() {
        try {
            return queryId(rows);
        } catch (SQLException e) {
            throw new IllegalStateException(file + ": cannot read: " + DuckDb.brief(e), e);
        }
    }

    /** Non-blank parts joined by a newline: a candidate's document from its text fields. */
    static String document(String... parts) {
        List<String> present = new ArrayList<>();
        for (String part : parts) {
            if (part != null && !part.isBlank()) {
                present.add(part.strip());
            }
        }
        return String.join("\n", present);
    }

    @Override
    public final void close() {
        try {
            if (rows != null) {
                rows.close();
            }
        } catch (SQLException e) {
            throw new IllegalStateException(file + ": cannot close: " + DuckDb.brief(e), e);
        } finally {
            duck.close();
        }
    }
}
