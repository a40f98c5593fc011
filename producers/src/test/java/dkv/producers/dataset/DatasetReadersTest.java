package dkv.producers.dataset;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.Sample;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetReadersTest {
    static Path fixture(String name) {
        try {
            return Path.of(DatasetReadersTest.class.getResource("/datasets/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static List<Sample> readAll(SampleReader reader) {
        List<Sample> samples = new ArrayList<>();
        try (reader) {
            reader.forEachRemaining(samples::add);
        }
        return samples;
    }

    private static final String RBA_SELECTED = "Results-Based Accountability® (also known as RBA) is a disciplined way";

    /** The three MS MARCO shapes hold the same five records: they must read to identical samples. */
    @Test
    void everyMsMarcoShapeReadsTheSameSamples() {
        List<Sample> lines = readAll(DatasetFormat.MSMARCO_JSONL.open(fixture("msmarco_v11.jsonl"), ReaderOptions.defaults()));
        List<Sample> columns = readAll(DatasetFormat.MSMARCO_COLUMNS.open(fixture("msmarco_columns.json"), ReaderOptions.defaults()));
        List<Sample> export = readAll(DatasetFormat.MSMARCO_JSONL.open(fixture("msmarco_hf_export.jsonl"), ReaderOptions.defaults()));

        assertEquals(List.of("19699", "19702", "19703"), lines.stream().map(Sample::getId).toList());
        Sample rba = lines.getFirst();
        assertEquals("what is rba", rba.getQuery());
        assertTrue(rba.getPassage().startsWith(RBA_SELECTED), rba.getPassage());
        assertEquals(3, rba.getPassages().size());
        assertTrue(rba.getPassages().get(1).getIsSelected());
        assertEquals("http://example.org/rba2", rba.getPassages().get(1).getUrl());
        assertEquals("DESCRIPTION", rba.getQueryType());
        assertEquals("msmarco_v11", rba.getDataset());
        assertEquals("1", rba.getExtra().get("passage_index"), "the scored passage's place among the candidates");
        // the empty first answer is skipped, the second one taken
        assertTrue(lines.get(2).getAnswer().startsWith("Photosynthesis is the process"), lines.get(2).getAnswer());

        for (List<Sample> other : List.of(columns, export)) {
            assertEquals(lines.size(), other.size());
            for (int i = 0; i < lines.size(); i++) {
                assertEquals(lines.get(i).getId(), other.get(i).getId());
                assertEquals(lines.get(i).getQuery(), other.get(i).getQuery());
                assertEquals(lines.get(i).getPassage(), other.get(i).getPassage());
                assertEquals(lines.get(i).getAnswer(), other.get(i).getAnswer());
                assertEquals(lines.get(i).getPassages(), other.get(i).getPassages());
            }
        }
    }

    @Test
    void countsSamplesWithoutAnswerOrSelectedPassage() {
        SampleReader reader = DatasetFormat.MSMARCO_COLUMNS.open(fixture("msmarco_columns.json"), ReaderOptions.defaults());
        readAll(reader);
        assertEquals(5, reader.counts().records());
        assertEquals(3, reader.counts().samples());
        assertEquals(1, reader.counts().noAnswer());
        assertEquals(1, reader.counts().noPassage());
        assertEquals(0, reader.counts().bad());
    }

    @Test
    void firstPassageChoiceKeepsQueriesWithoutSelection() {
        ReaderOptions first = new ReaderOptions(PassageChoice.FIRST, 42, false);
        List<Sample> samples = readAll(DatasetFormat.MSMARCO_JSONL.open(fixture("msmarco_v11.jsonl"), first));
        assertEquals(List.of("19699", "19701", "19702", "19703"), samples.stream().map(Sample::getId).toList());
        assertTrue(samples.getFirst().getPassage().startsWith("Since 2007"));
        assertTrue(samples.get(1).getPassage().startsWith("The tower is 324 metres"));
    }

    @Test
    void randomPassageChoiceIsSeeded() {
        ReaderOptions random = new ReaderOptions(PassageChoice.RANDOM, 7, false);
        List<String> a = readAll(DatasetFormat.MSMARCO_JSONL.open(fixture("msmarco_v11.jsonl"), random)).stream().map(Sample::getPassage).toList();
        List<String> b = readAll(DatasetFormat.MSMARCO_COLUMNS.open(fixture("msmarco_columns.json"), random)).stream().map(Sample::getPassage).toList();
        assertEquals(a, b);
        assertEquals(4, a.size());
        // across seeds the choice for the three-passage record must vary (some seed among 20 picks another passage)
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (long seed = 0; seed < 20; seed++) {
            seen.add(readAll(DatasetFormat.MSMARCO_JSONL.open(fixture("msmarco_v11.jsonl"), new ReaderOptions(PassageChoice.RANDOM, seed, false)))
                    .getFirst().getPassage());
        }
        assertEquals(3, seen.size());
    }

    @Test
    void brokenLineFailsWithFileLineAndField() {
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> readAll(DatasetFormat.GENERIC_JSONL.open(fixture("generic_broken.jsonl"), ReaderOptions.defaults())));
        assertEquals(3, e.line());
        assertTrue(e.getMessage().contains("generic_broken.jsonl:3: field '<json>': not valid JSON"), e.getMessage());
    }

    @Test
    void malformedFieldNamesTheField() {
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> readAll(DatasetFormat.MSMARCO_JSONL.open(fixture("msmarco_bad_field.jsonl"), ReaderOptions.defaults())));
        assertEquals(2, e.line());
        assertEquals("passages", e.field());
        assertTrue(e.getMessage().contains("msmarco_bad_field.jsonl:2: field 'passages'"), e.getMessage());
    }

    @Test
    void skipBadContinuesAndCounts() {
        SampleReader reader = DatasetFormat.GENERIC_JSONL.open(fixture("generic_broken.jsonl"), ReaderOptions.defaults().withSkipBad(true));
        List<Sample> samples = readAll(reader);
        assertEquals(List.of("g1", "g2", "5"), samples.stream().map(Sample::getId).toList());
        assertEquals("Frozen water", samples.get(2).getAnswer());
        assertEquals(2, reader.counts().bad(), reader.counts().toString());
        assertEquals(1, reader.counts().noAnswer());
        assertEquals(6, reader.counts().records());
        assertEquals(3, reader.counts().firstBad().line());
    }

    @Test
    void skipBadInColumnsReportsTheColumnsLine(@TempDir Path dir) throws IOException {
        String json = """
                {"query": {"0": "q zero", "1": "q one", "2": "q two"},
                 "answers": {"0": ["a zero"],
                             "1": "not a list",
                             "2": ["a two"]},
                 "passages": {"0": [{"is_selected": 1, "passage_text": "p zero"}],
                              "1": [{"is_selected": 1, "passage_text": "p one"}],
                              "2": [{"is_selected": 1, "passage_text": "p two"}]}}
                """;
        Path file = dir.resolve("cols.json");
        Files.writeString(file, json);
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> readAll(DatasetFormat.MSMARCO_COLUMNS.open(file, ReaderOptions.defaults())));
        assertEquals(3, e.line(), e.getMessage());
        assertEquals("answers", e.field());
        SampleReader skipping = DatasetFormat.MSMARCO_COLUMNS.open(file, ReaderOptions.defaults().withSkipBad(true));
        assertEquals(List.of("0", "2"), readAll(skipping).stream().map(Sample::getId).toList());
        assertEquals(1, skipping.counts().bad());
    }

    @Test
    void columnsOutOfStepFailClearly(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("cols.json");
        Files.writeString(file, """
                {"query": {"0": "q", "1": "r"}, "answers": {"0": ["a"], "2": ["b"]},
                 "passages": {"0": [{"is_selected": 1, "passage_text": "p"}], "1": [{"is_selected": 1, "passage_text": "p"}]}}
                """);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> readAll(DatasetFormat.MSMARCO_COLUMNS.open(file, ReaderOptions.defaults())));
        assertTrue(e.getMessage().contains("out of step"), e.getMessage());
    }

    @Test
    void missingColumnIsNamed(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("cols.json");
        Files.writeString(file, "{\"query\": {\"0\": \"q\"}, \"answers\": {\"0\": [\"a\"]}}");
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> DatasetFormat.MSMARCO_COLUMNS.open(file, ReaderOptions.defaults()));
        assertEquals("passages", e.field());
    }

    @Test
    void detectsEachFormat() {
        assertEquals(DatasetFormat.MSMARCO_COLUMNS, DatasetFormat.detect(fixture("msmarco_columns.json")));
        assertEquals(DatasetFormat.MSMARCO_JSONL, DatasetFormat.detect(fixture("msmarco_v11.jsonl")));
        assertEquals(DatasetFormat.MSMARCO_JSONL, DatasetFormat.detect(fixture("msmarco_hf_export.jsonl")));
        assertEquals(DatasetFormat.GENERIC_JSONL, DatasetFormat.detect(fixture("generic_broken.jsonl")));
        assertEquals(DatasetFormat.GENERIC_JSONL, Dataset.of(fixture("generic_broken.jsonl"), Optional.empty(), ReaderOptions.defaults()).format());
    }

    @Test
    void readerStreamsLazily() {
        // the reader must produce the first sample before it has read the broken third line
        SampleReader reader = DatasetFormat.GENERIC_JSONL.open(fixture("generic_broken.jsonl"), ReaderOptions.defaults());
        try (reader) {
            assertEquals("g1", reader.next().getId());
            assertEquals("g2", reader.next().getId());
            assertThrows(BadRecordException.class, reader::hasNext);
        }
        assertFalse(reader.counts().records() > 3);
    }
}
