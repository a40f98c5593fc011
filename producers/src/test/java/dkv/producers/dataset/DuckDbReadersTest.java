package dkv.producers.dataset;

import static dkv.producers.dataset.DatasetReadersTest.fixture;
import static dkv.producers.dataset.DatasetReadersTest.readAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.Candidate;
import dkv.avro.Sample;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The DuckDB readers (MS MARCO Parquet, ESCI, WANDS) on tiny files this test writes with DuckDB itself. */
class DuckDbReadersTest {
    /**
     * The column types of {@code microsoft/ms_marco} (v1.1 and v2.1) as its Parquet files declare them: the
     * {@code datasets} features {@code passages: Sequence({is_selected: int32, passage_text: string, url: string})}
     * become a struct of lists, {@code query_id} is int32.
     */
    static final Map<String, String> HF_MS_MARCO = hfSchema();

    private static Map<String, String> hfSchema() {
        Map<String, String> columns = new LinkedHashMap<>();
        columns.put("answers", "VARCHAR[]");
        columns.put("passages", "STRUCT(is_selected INTEGER[], passage_text VARCHAR[], url VARCHAR[])");
        columns.put("query", "VARCHAR");
        columns.put("query_id", "INTEGER");
        columns.put("query_type", "VARCHAR");
        columns.put("wellFormedAnswers", "VARCHAR[]");
        return columns;
    }

    static void sql(String... statements) throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            for (String statement : statements) {
                s.execute(statement);
            }
        }
    }

    static Map<String, String> parquetSchema(Path file) throws SQLException {
        Map<String, String> columns = new LinkedHashMap<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("DESCRIBE SELECT * FROM read_parquet('" + file + "')")) {
            while (r.next()) {
                columns.put(r.getString(1), r.getString(2));
            }
        }
        return columns;
    }

    /** The five records of msmarco_hf_export.jsonl as HF's Parquet: same columns, same types, same order. */
    static Path hfParquet(Path dir) throws SQLException {
        Path out = dir.resolve("validation-00000-of-00001.parquet");
        String columns = String.join(", ", HF_MS_MARCO.entrySet().stream()
                .map(e -> "'" + e.getKey() + "': '" + e.getValue() + "'").toList());
        sql("COPY (SELECT * FROM read_json('" + fixture("msmarco_hf_export.jsonl") + "', format = 'newline_delimited',"
                + " columns = {" + columns + "})) TO '" + out + "' (FORMAT parquet)");
        return out;
    }

    @Test
    void hfParquetReadsLikeTheJsonShapes(@TempDir Path dir) throws Exception {
        Path parquet = hfParquet(dir);
        assertEquals(HF_MS_MARCO, parquetSchema(parquet), "the fixture has HF's schema");
        assertEquals(DatasetFormat.MSMARCO_PARQUET, DatasetFormat.detect(parquet));

        List<Sample> lines = readAll(DatasetFormat.MSMARCO_JSONL.open(fixture("msmarco_v11.jsonl"), ReaderOptions.defaults()));
        SampleReader reader = Dataset.of(parquet, Optional.empty(), ReaderOptions.defaults()).open();
        List<Sample> fromParquet = readAll(reader);

        assertEquals(lines.stream().map(Sample::getId).toList(), fromParquet.stream().map(Sample::getId).toList());
        for (int i = 0; i < lines.size(); i++) {
            assertEquals(lines.get(i).getQuery(), fromParquet.get(i).getQuery());
            assertEquals(lines.get(i).getPassage(), fromParquet.get(i).getPassage());
            assertEquals(lines.get(i).getAnswer(), fromParquet.get(i).getAnswer());
            assertEquals(lines.get(i).getPassages(), fromParquet.get(i).getPassages());
            assertEquals(lines.get(i).getQueryType(), fromParquet.get(i).getQueryType());
        }
        assertEquals("validation-00000-of-00001", fromParquet.getFirst().getDataset());
        assertEquals(5, reader.counts().records());
        assertEquals(1, reader.counts().noAnswer());
        assertEquals(1, reader.counts().noPassage());
    }

    @Test
    void rankingSamplesCarryEveryPassageAsACandidate(@TempDir Path dir) throws Exception {
        ReaderOptions ranking = ReaderOptions.defaults().withRanking(true);
        List<Sample> fromParquet = readAll(DatasetFormat.MSMARCO_PARQUET.open(hfParquet(dir), ranking));
        List<Sample> fromLines = readAll(DatasetFormat.MSMARCO_JSONL.open(fixture("msmarco_v11.jsonl"), ranking));
        Sample rba = fromParquet.getFirst();
        assertEquals(List.of("p0", "p1", "p2"), rba.getCandidates().stream().map(Candidate::getId).toList());
        assertEquals(List.of(0.0, 1.0, 0.0), rba.getCandidates().stream().map(Candidate::getRelevance).toList());
        assertEquals("1", rba.getCandidates().get(1).getLabel());
        assertEquals(rba.getPassages().get(2).getText(), rba.getCandidates().get(2).getText());
        assertEquals(fromLines.stream().map(Sample::getCandidates).toList(),
                fromParquet.stream().map(Sample::getCandidates).toList());
        assertEquals(List.of(), readAll(DatasetFormat.MSMARCO_PARQUET.open(hfParquet(dir), ReaderOptions.defaults()))
                .getFirst().getCandidates(), "answer samples without ranking have none");
    }

    @Test
    void parquetErrorsNameFileRowAndColumn(@TempDir Path dir) throws Exception {
        Path badAnswers = dir.resolve("bad.parquet");
        sql("COPY (SELECT 'q' AS query, 'not a list' AS answers, {'is_selected': [1], 'passage_text': ['p'], 'url': ['u']}"
                + " AS passages UNION ALL SELECT 'r', 'x', {'is_selected': [1], 'passage_text': ['p'], 'url': ['u']})"
                + " TO '" + badAnswers + "' (FORMAT parquet)");
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> readAll(DatasetFormat.MSMARCO_PARQUET.open(badAnswers, ReaderOptions.defaults())));
        assertEquals(badAnswers + ":1: field 'answers': expected a list of strings, found STRING", e.getMessage());
        SampleReader skipping = DatasetFormat.MSMARCO_PARQUET.open(badAnswers, ReaderOptions.defaults().withSkipBad(true));
        assertEquals(List.of(), readAll(skipping));
        assertEquals(2, skipping.counts().bad());

        Path noPassages = dir.resolve("nopassages.parquet");
        sql("COPY (SELECT 'q' AS query, ['a'] AS answers) TO '" + noPassages + "' (FORMAT parquet)");
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> DatasetFormat.MSMARCO_PARQUET.open(noPassages, ReaderOptions.defaults()));
        assertEquals(noPassages + ": column 'passages' missing (found: query, answers)", missing.getMessage());
    }

    @Test
    void aGitLfsPointerIsNamedAsSuch(@TempDir Path dir) throws IOException {
        Path pointer = Files.writeString(dir.resolve(EsciReader.EXAMPLES), """
                version https://git-lfs.github.com/spec/v1
                oid sha256:7ac81fa6e0bd2d1c1e5a4e7f0d5f9e4f2a7b1c0e9d8f7a6b5c4d3e2f1a0b9c8d
                size 66468385
                """);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Dataset.of(pointer, Optional.empty(), ReaderOptions.defaults()).open());
        assertTrue(e.getMessage().startsWith(pointer + ": a Git LFS pointer, not the Parquet file"), e.getMessage());
    }

    /** Two locales share product B1 (the join must use the locale), a description is missing, filters select. */
    static Path esci(Path dir) throws SQLException {
        Path examples = dir.resolve(EsciReader.EXAMPLES);
        Path products = dir.resolve(EsciReader.PRODUCTS);
        sql("""
                COPY (SELECT * FROM (VALUES
                  (1, 'desk lamp', 7, 'B2', 'us', 'S', 1, 1, 'test'),
                  (0, 'desk lamp', 7, 'B1', 'us', 'E', 1, 1, 'test'),
                  (2, 'desk lamp', 7, 'B3', 'us', 'I', 1, 1, 'test'),
                  (3, 'desk lamp', 7, 'B4', 'us', 'C', 1, 1, 'test'),
                  (4, 'lampara', 9, 'B1', 'es', 'E', 1, 1, 'test'),
                  (5, 'lampara', 9, 'B3', 'es', 'I', 1, 1, 'test'),
                  (6, 'chair', 8, 'B5', 'us', 'E', 0, 1, 'train'),
                  (7, 'chair', 8, 'B6', 'us', 'I', 0, 1, 'train'))
                  t(example_id, query, query_id, product_id, product_locale, esci_label, small_version, large_version, split))
                TO '%s' (FORMAT parquet)""".formatted(examples),
                """
                COPY (SELECT * FROM (VALUES
                  ('B1', 'Brass lamp', 'A warm light.', '- 40 W\n- brass', 'Acme', 'gold', 'us'),
                  ('B1', 'Lámpara de latón', 'Luz cálida.', NULL, 'Acme', 'oro', 'es'),
                  ('B2', 'Floor lamp', NULL, '- tall', 'Acme', NULL, 'us'),
                  ('B3', 'Lamp shade', 'Only the shade.', NULL, NULL, NULL, 'us'),
                  ('B3', 'Pantalla', NULL, NULL, NULL, NULL, 'es'),
                  ('B4', 'LED bulb', 'Fits lamps.', NULL, NULL, NULL, 'us'),
                  ('B5', 'Chair', NULL, NULL, NULL, NULL, 'us'),
                  ('B6', 'Table', NULL, NULL, NULL, NULL, 'us'))
                  t(product_id, product_title, product_description, product_bullet_point, product_brand, product_color,
                    product_locale))
                TO '%s' (FORMAT parquet)""".formatted(products));
        return examples;
    }

    @Test
    void esciJoinsProductsByLocaleAndMapsLabelsToGains(@TempDir Path dir) throws Exception {
        esci(dir);
        assertEquals(DatasetFormat.ESCI, DatasetFormat.detect(dir));
        List<Sample> all = readAll(Dataset.of(dir, Optional.empty(), ReaderOptions.defaults()).open());
        assertEquals(List.of("7", "8", "9"), all.stream().map(Sample::getId).toList());
        Sample lamp = all.getFirst();
        assertEquals("desk lamp", lamp.getQuery());
        assertEquals("", lamp.getAnswer());
        assertEquals("esci", lamp.getDataset());
        assertEquals(List.of("B1", "B2", "B3", "B4"), lamp.getCandidates().stream().map(Candidate::getId).toList());
        assertEquals(List.of(1.0, 0.1, 0.0, 0.01), lamp.getCandidates().stream().map(Candidate::getRelevance).toList());
        assertEquals(List.of("E", "S", "I", "C"), lamp.getCandidates().stream().map(Candidate::getLabel).toList());
        assertEquals("Brass lamp\nA warm light.\n- 40 W\n- brass", lamp.getCandidates().getFirst().getText());
        assertEquals("Floor lamp\n- tall", lamp.getCandidates().get(1).getText(), "a missing description is left out");
        assertEquals("Lámpara de latón\nLuz cálida.", all.get(2).getCandidates().getFirst().getText(), "the es product");

        ReaderOptions filtered = ReaderOptions.defaults().withFilters(
                Map.of("small_version", "1", "split", "test", "product_locale", "us"));
        assertEquals(List.of("7"), readAll(DatasetFormat.ESCI.open(dir.resolve(EsciReader.EXAMPLES), filtered)).stream()
                .map(Sample::getId).toList());
    }

    @Test
    void esciErrorsNameFileRowAndColumn(@TempDir Path dir) throws Exception {
        Path examples = esci(dir);
        sql("COPY (SELECT * REPLACE (CASE WHEN example_id = 5 THEN 'B9' ELSE product_id END AS product_id)"
                + " FROM read_parquet('" + examples + "')) TO '" + dir.resolve("x.parquet") + "' (FORMAT parquet)");
        Files.move(dir.resolve("x.parquet"), examples, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> readAll(DatasetFormat.ESCI.open(dir, ReaderOptions.defaults())));
        assertEquals(examples + ":6: field 'product_id': no product B9 (locale es) in "
                + dir.resolve(EsciReader.PRODUCTS), e.getMessage());
        SampleReader skipping = DatasetFormat.ESCI.open(dir, ReaderOptions.defaults().withSkipBad(true));
        assertEquals(List.of("7", "8"), readAll(skipping).stream().map(Sample::getId).toList(), "query 9 is skipped whole");
        assertEquals(1, skipping.counts().bad());

        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> DatasetFormat.ESCI.open(dir,
                ReaderOptions.defaults().withFilters(Map.of("locale", "us"))));
        assertEquals(examples + ": unknown ESCI filter 'locale' (known: product_locale, small_version, split)",
                unknown.getMessage());
        IllegalArgumentException notEsci = assertThrows(IllegalArgumentException.class, () -> DatasetFormat.MSMARCO_JSONL
                .open(fixture("msmarco_v11.jsonl"), ReaderOptions.defaults().withFilters(Map.of("split", "test"))));
        assertTrue(notEsci.getMessage().endsWith("dataset filters apply to ESCI only (got split)"), notEsci.getMessage());
    }

    /** WANDS as Wayfair ships it: tab-separated, a header with a space, double-quoted fields. */
    static Path wands(Path dir, String extraLabel) throws IOException {
        Files.writeString(dir.resolve(WandsReader.PRODUCTS), String.join("\n",
                "product_id\tproduct_name\tproduct_class\tcategory hierarchy\tproduct_description\tproduct_features"
                        + "\trating_count\taverage_rating\treview_count",
                "0\tsolid wood platform bed\tBeds\tFurniture / Bedroom Furniture / Beds & Headboards / Beds"
                        + "\t\"good, deep sleep \"\"matters\"\"\tand so does a frame\"\toverallwidth:64.7|style:modern\t15.0\t4.5\t15.0",
                "1\tall-clad 7 qt slow cooker\tSlow Cookers\tKitchen / Small Appliances\t\t\t\t\t",
                "2\tplatform bed frame\tBeds\tFurniture / Beds\t\"a sturdy frame\"\t\t3.0\t4.0\t3.0",
                "") );
        Files.writeString(dir.resolve(WandsReader.QUERIES), "query_id\tquery\tquery_class\n0\tplatform bed\tBeds\n"
                + "1\tslow cooker\tSlow Cookers\n");
        Files.writeString(dir.resolve(WandsReader.LABELS), "id\tquery_id\tproduct_id\tlabel\n0\t0\t2\tExact\n"
                + "1\t0\t0\tPartial\n2\t0\t1\tIrrelevant\n3\t1\t1\tExact\n" + extraLabel);
        return dir;
    }

    @Test
    void wandsReadsQuotedTabSeparatedFilesAndMapsLabels(@TempDir Path dir) throws Exception {
        wands(dir, "");
        assertEquals(DatasetFormat.WANDS, DatasetFormat.detect(dir));
        assertEquals(DatasetFormat.WANDS, DatasetFormat.detect(dir.resolve(WandsReader.LABELS)));
        List<Sample> samples = readAll(DatasetFormat.WANDS.open(dir.resolve(WandsReader.QUERIES), ReaderOptions.defaults()));
        assertEquals(List.of("0", "1"), samples.stream().map(Sample::getId).toList());
        Sample bed = samples.getFirst();
        assertEquals("platform bed", bed.getQuery());
        assertEquals(List.of("0", "1", "2"), bed.getCandidates().stream().map(Candidate::getId).toList());
        assertEquals(List.of(1.0, 0.0, 2.0), bed.getCandidates().stream().map(Candidate::getRelevance).toList());
        assertEquals(List.of("Partial", "Irrelevant", "Exact"), bed.getCandidates().stream().map(Candidate::getLabel).toList());
        assertEquals("solid wood platform bed\ngood, deep sleep \"matters\"\tand so does a frame",
                bed.getCandidates().getFirst().getText(), "quotes and a tab inside a quoted field");
        assertEquals("all-clad 7 qt slow cooker", bed.getCandidates().get(1).getText());
    }

    @Test
    void wandsErrorsNameFileLineAndColumn(@TempDir Path dir) throws Exception {
        wands(dir, "4\t1\t0\tMaybe\n");
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> readAll(DatasetFormat.WANDS.open(dir, ReaderOptions.defaults())));
        assertEquals(dir.resolve(WandsReader.LABELS) + ":6: field 'label': expected Exact, Partial or Irrelevant, found Maybe",
                e.getMessage());

        Files.delete(dir.resolve(WandsReader.PRODUCTS));
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> DatasetFormat.WANDS.open(dir, ReaderOptions.defaults()));
        assertTrue(missing.getMessage().startsWith("WANDS file not found: " + dir.resolve(WandsReader.PRODUCTS)),
                missing.getMessage());
    }
}
