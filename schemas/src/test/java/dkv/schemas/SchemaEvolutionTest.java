package dkv.schemas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.Sample;
import dkv.avro.ScoreRecord;
import dkv.avro.StatsSnapshot;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.MissingSchemaException;
import org.apache.avro.specific.SpecificData;
import org.junit.jupiter.api.Test;

/** Records written by an older producer (an older writer schema from the history) stay readable. */
class SchemaEvolutionTest {

    @Test
    void aV1ScoreRecordIsReadByTheCurrentReaderWithDefaultsForNewFields() throws IOException {
        Schema v1 = SchemaHistory.parse("dkv.avro.ScoreRecord.v1.avsc");
        GenericRecord model = new GenericData.Record(v1.getField("model").schema());
        model.put("id", "llama-3.2-1b");
        model.put("revision", "abc123");
        GenericRecord segments = new GenericData.Record(v1.getField("segments").schema());
        segments.put("bos", 1);
        segments.put("prefix", 0);
        segments.put("document", 97);
        segments.put("suffix", 0);
        segments.put("query", 21);
        segments.put("answer", 6);
        GenericRecord old = new GenericData.Record(v1);
        old.put("experiment_id", "exp-old");
        old.put("sample_id", "s42");
        old.put("condition", "bare");
        old.put("model", model);
        old.put("nll_mean", 2.5);
        old.put("nll_sum", 15.0);
        old.put("answer_tokens", 6);
        old.put("segments", segments);
        old.put("document_kv_max_abs_delta", 0.0);
        old.put("score_ms", 12.0);
        old.put("worker", "scorer-a");

        ScoreRecord read = AvroSerde.of(ScoreRecord.class).decode(writeWith(v1, old));

        assertEquals("exp-old", read.getExperimentId());
        assertEquals("s42", read.getSampleId());
        assertEquals("llama-3.2-1b", read.getModel().getId());
        assertEquals("abc123", read.getModel().getRevision());
        assertEquals(2.5, read.getNllMean());
        assertEquals(97, read.getSegments().getDocument());
        assertEquals(0.0, read.getDocumentKvMaxAbsDelta());
        assertEquals("scorer-a", read.getWorker());
        // fields added after v1 take their declared defaults
        assertNull(read.getGroup());
        assertEquals("", read.getPlanHash());
        assertNull(read.getTokenLogprobs());
        assertEquals("", read.getDevice());
        assertNull(read.getAttention());
        assertNull(read.getMeta());
        assertEquals(0L, read.getScoredAt());
    }

    @Test
    void aV1SampleIsReadByTheCurrentReader() throws IOException {
        Schema v1 = SchemaHistory.parse("dkv.avro.Sample.v1.avsc");
        GenericRecord old = new GenericData.Record(v1);
        old.put("id", "q1");
        old.put("dataset", "msmarco-v1.1");
        old.put("query", "who wrote hamlet");
        old.put("passage", "Hamlet is a tragedy by William Shakespeare.");
        old.put("answer", "William Shakespeare");

        Sample read = AvroSerde.of(Sample.class).decode(writeWith(v1, old));

        assertEquals("who wrote hamlet", read.getQuery());
        assertEquals("William Shakespeare", read.getAnswer());
        assertEquals(List.of(), read.getPassages());
        assertNull(read.getQueryType());
        assertEquals(Map.of(), read.getExtra());
    }

    @Test
    void aV2ScoreRecordIsReadWithDefaultsForTheStreamAndRankingFields() throws IOException {
        Schema v2 = SchemaHistory.parse("dkv.avro.ScoreRecord.v2.avsc");
        GenericRecord model = new GenericData.Record(v2.getField("model").schema());
        model.put("id", "mistral-7b");
        GenericRecord segments = new GenericData.Record(v2.getField("segments").schema());
        for (String f : List.of("bos", "prefix", "document", "suffix", "query", "answer")) segments.put(f, 3);
        GenericRecord old = new GenericData.Record(v2);
        old.put("experiment_id", "exp-v2");
        old.put("sample_id", "s7");
        old.put("condition", "oracle_trunc");
        old.put("model", model);
        old.put("plan_hash", "abc");
        old.put("nll_mean", 1.25);
        old.put("nll_sum", 3.75);
        old.put("answer_tokens", 3);
        old.put("segments", segments);
        old.put("score_ms", 4.0);
        old.put("worker", "w");
        old.put("device", "cpu");
        old.put("dtype", "float32");
        old.put("scored_at", 17L);

        ScoreRecord read = AvroSerde.of(ScoreRecord.class).decode(writeWith(v2, old));

        assertEquals("oracle_trunc", read.getCondition());
        assertEquals(1.25, read.getNllMean());
        assertEquals(3, read.getSegments().getDocument());
        assertEquals(0, read.getSegments().getSpecial());
        assertNull(read.getEncoderSegments());
        assertNull(read.getQueryId());
        assertNull(read.getCandidateId());
        assertNull(read.getRelevance());
        assertEquals(dkv.avro.ScoreTarget.ANSWER, read.getTarget());
        assertNull(read.getQuerySimilarity());
    }

    /**
     * dkv.scores holds records whose meta was written before derived conditions could route by a signal NLL: the
     * aggregator reads their routed and best-of conditions with no signals.
     */
    @Test
    void aV3ScoreRecordsDerivedConditionsAreReadWithoutSignals() throws IOException {
        Schema v3 = SchemaHistory.parse("dkv.avro.ScoreRecord.v3.avsc");
        GenericRecord old = new GenericData.Record(v3);
        for (Schema.Field f : v3.getFields()) {
            old.put(f.name(), f.hasDefaultValue() ? GenericData.get().getDefaultValue(f) : null);
        }
        GenericRecord model = new GenericData.Record(v3.getField("model").schema());
        model.put("id", "mistral-7b");
        GenericRecord segments = new GenericData.Record(v3.getField("segments").schema());
        for (Schema.Field f : segments.getSchema().getFields()) segments.put(f.name(), 3);
        Schema metaSchema = v3.getField("meta").schema().getTypes().get(1);
        Schema derivedSchema = metaSchema.getField("derived").schema().getElementType();
        GenericRecord derived = new GenericData.Record(derivedSchema);
        derived.put("name", "pool_routed");
        derived.put("kind", new GenericData.EnumSymbol(derivedSchema.getField("kind").schema(), "ROUTED"));
        derived.put("members", List.of("gen_a", "gen_b"));
        GenericRecord meta = new GenericData.Record(metaSchema);
        for (Schema.Field f : metaSchema.getFields()) {
            meta.put(f.name(), f.hasDefaultValue() ? GenericData.get().getDefaultValue(f) : null);
        }
        meta.put("baseline", "bare");
        meta.put("derived", List.of(derived));
        for (String f : List.of("experiment_id", "sample_id", "condition", "plan_hash", "worker", "device", "dtype")) {
            old.put(f, f);
        }
        old.put("model", model);
        old.put("segments", segments);
        old.put("meta", meta);
        old.put("nll_mean", 1.25);
        old.put("nll_sum", 3.75);
        old.put("answer_tokens", 3);
        old.put("score_ms", 4.0);
        old.put("scored_at", 17L);

        ScoreRecord read = AvroSerde.of(ScoreRecord.class).decode(writeWith(v3, old));

        dkv.avro.DerivedCondition d = read.getMeta().getDerived().getFirst();
        assertEquals(dkv.avro.DerivedKind.ROUTED, d.getKind());
        assertEquals(List.of("gen_a", "gen_b"), d.getMembers());
        assertEquals(List.of(), d.getSignals(), "written before signals existed");
    }

    @Test
    void aV1WorkItemIsReadWithNoCandidatesAndDefaultConditionFields() throws IOException {
        Schema v1 = SchemaHistory.parse("dkv.avro.WorkItem.v1.avsc");
        GenericRecord model = new GenericData.Record(v1.getField("model").schema());
        model.put("id", "dkv-tiny-llama");
        Schema sampleSchema = v1.getField("sample").schema();
        GenericRecord sample = new GenericData.Record(sampleSchema);
        for (String f : List.of("id", "dataset", "query", "passage", "answer")) sample.put(f, f);
        sample.put("passages", List.of());
        sample.put("extra", Map.of());
        Schema specSchema = v1.getField("conditions").schema().getElementType();
        GenericRecord spec = new GenericData.Record(specSchema);
        spec.put("name", "bare");
        spec.put("placement", new GenericData.EnumSymbol(specSchema.getField("placement").schema(), "NONE"));
        spec.put("rope_correction", new GenericData.EnumSymbol(specSchema.getField("rope_correction").schema(), "HALF_SPLIT"));
        spec.put("keep_bos", true);
        spec.put("document_template", "{passage}");
        spec.put("separator", "\n");
        spec.put("query_template", "{query}");
        spec.put("query_free_template", "");
        spec.put("answer_template", " {answer}");
        spec.put("query_free", false);
        spec.put("capture_attention", false);
        GenericRecord meta = new GenericData.Record(v1.getField("meta").schema());
        meta.put("baseline", "bare");
        meta.put("contrasts", List.of());
        meta.put("correlations", List.of());
        meta.put("planned_samples", 1L);
        meta.put("planned_conditions", 1);
        GenericRecord old = workItem(v1, model, sample, spec, meta);

        dkv.avro.WorkItem read = AvroSerde.of(dkv.avro.WorkItem.class).decode(writeWith(v1, old));

        assertEquals(List.of(), read.getSample().getCandidates());
        dkv.avro.ConditionSpec c = read.getConditions().getFirst();
        assertEquals(dkv.avro.ScoreTarget.ANSWER, c.getTarget());
        assertEquals(dkv.avro.CrossMask.PREFIX, c.getCrossMask());
        assertNull(c.getQuerySimilarity());
        assertEquals(List.of(), read.getMeta().getDerived());
    }

    /** dkv.work may hold items a producer wrote before generated surrogates carried their template and generator. */
    @Test
    void aV2WorkItemIsReadWithoutGeneratedSurrogateProvenance() throws IOException {
        Schema v2 = SchemaHistory.parse("dkv.avro.WorkItem.v2.avsc");
        GenericRecord model = new GenericData.Record(v2.getField("model").schema());
        model.put("id", "mistral-7b");
        GenericRecord sample = new GenericData.Record(v2.getField("sample").schema());
        for (String f : List.of("id", "dataset", "query", "passage", "answer")) sample.put(f, f);
        sample.put("passages", List.of());
        sample.put("extra", Map.of());
        sample.put("candidates", List.of());
        Schema specSchema = v2.getField("conditions").schema().getElementType();
        GenericRecord spec = new GenericData.Record(specSchema);
        for (Schema.Field f : specSchema.getFields()) {
            spec.put(f.name(), f.hasDefaultValue() ? GenericData.get().getDefaultValue(f) : null);
        }
        spec.put("name", "generated_trunc");
        spec.put("placement", new GenericData.EnumSymbol(specSchema.getField("placement").schema(), "PREFIX_TRUNCATED"));
        spec.put("surrogate", "what is the boiling point");
        spec.put("surrogate_kind", "generated");
        spec.put("query_similarity", 0.75);
        Schema metaSchema = v2.getField("meta").schema();
        GenericRecord meta = new GenericData.Record(metaSchema);
        for (Schema.Field f : metaSchema.getFields()) {
            meta.put(f.name(), f.hasDefaultValue() ? GenericData.get().getDefaultValue(f) : null);
        }
        meta.put("baseline", "bare");
        GenericRecord old = workItem(v2, model, sample, spec, meta);

        dkv.avro.WorkItem read = AvroSerde.of(dkv.avro.WorkItem.class).decode(writeWith(v2, old));

        dkv.avro.ConditionSpec c = read.getConditions().getFirst();
        assertEquals("what is the boiling point", c.getSurrogate());
        assertEquals(0.75, c.getQuerySimilarity());
        assertNull(c.getSurrogateTemplate(), "written before generated surrogates named their template");
        assertNull(c.getSurrogateGenerator());
    }

    @Test
    void aV1StatsSnapshotIsReadWithoutRankingStatistics() throws IOException {
        Schema v1 = SchemaHistory.parse("dkv.avro.StatsSnapshot.v1.avsc");
        Schema pairedSchema = v1.getField("conditions").schema().getElementType();
        GenericRecord paired = new GenericData.Record(pairedSchema);
        for (Schema.Field f : pairedSchema.getFields()) {
            switch (f.schema().getType()) {
                case STRING -> paired.put(f.name(), f.name().equals("name") ? "oracle" : "bare");
                case LONG -> paired.put(f.name(), 12L);
                case DOUBLE -> paired.put(f.name(), 0.25);
                case ARRAY -> paired.put(f.name(), List.of(0.1, 0.2));
                default -> paired.put(f.name(), null);
            }
        }
        GenericRecord old = new GenericData.Record(v1);
        old.put("experiment_id", "exp-stats");
        old.put("produced_at", 9L);
        old.put("records", 24L);
        old.put("samples", 12L);
        old.put("complete_samples", 12L);
        old.put("planned_samples", 12L);
        old.put("planned_conditions", 2);
        old.put("baseline", "bare");
        old.put("records_per_second", 1.5);
        old.put("conditions", List.of(paired));
        old.put("contrasts", List.of());
        old.put("correlations", List.of());
        old.put("attention", List.of());
        old.put("final", true);

        StatsSnapshot read = AvroSerde.of(StatsSnapshot.class).decode(writeWith(v1, old));

        assertEquals("exp-stats", read.getExperimentId());
        assertEquals(12L, read.getConditions().getFirst().getN());
        assertEquals(0.25, read.getConditions().getFirst().getMeanDelta());
        assertTrue(read.getFinal$());
        assertNull(read.getRanking(), "a snapshot from before ranking statistics has none");
    }

    /** dkv.stats is compacted: `dkv tail` reads snapshots an aggregator wrote before derived conditions existed. */
    @Test
    void aV2StatsSnapshotIsReadWithoutDerivedConditions() throws IOException {
        Schema v2 = SchemaHistory.parse("dkv.avro.StatsSnapshot.v2.avsc");
        Schema pairedSchema = v2.getField("conditions").schema().getElementType();
        GenericRecord paired = new GenericData.Record(pairedSchema);
        for (Schema.Field f : pairedSchema.getFields()) {
            switch (f.schema().getType()) {
                case STRING -> paired.put(f.name(), f.name().equals("name") ? "generated" : "bare");
                case LONG -> paired.put(f.name(), 7L);
                case DOUBLE -> paired.put(f.name(), 0.5);
                case ARRAY -> paired.put(f.name(), List.of(0.1));
                default -> paired.put(f.name(), null);
            }
        }
        GenericRecord old = new GenericData.Record(v2);
        for (Schema.Field f : v2.getFields()) {
            switch (f.schema().getType()) {
                case STRING -> old.put(f.name(), f.name().equals("baseline") ? "bare" : "exp-v2");
                case LONG -> old.put(f.name(), 7L);
                case INT -> old.put(f.name(), 2);
                case DOUBLE -> old.put(f.name(), 1.0);
                case BOOLEAN -> old.put(f.name(), false);
                case ARRAY -> old.put(f.name(), f.name().equals("conditions") ? List.of(paired) : List.of());
                default -> old.put(f.name(), null);
            }
        }

        StatsSnapshot read = AvroSerde.of(StatsSnapshot.class).decode(writeWith(v2, old));

        assertEquals("exp-v2", read.getExperimentId());
        assertEquals(0.5, read.getConditions().getFirst().getMeanDelta());
        assertNull(read.getConditions().getFirst().getDerivedKind(), "a scored condition");
        assertEquals(List.of(), read.getDerived());
        assertEquals(List.of(), read.getRouting());
    }

    /** The history is what makes it work: a reader that knows only the current schema cannot resolve v1. */
    @Test
    void withoutTheHistoryTheOldFingerprintIsUnknown() throws IOException {
        Schema v1 = SchemaHistory.parse("dkv.avro.Sample.v1.avsc");
        GenericRecord old = new GenericData.Record(v1);
        for (String field : List.of("id", "dataset", "query", "passage", "answer")) {
            old.put(field, "x");
        }
        var currentOnly = new BinaryMessageDecoder<Sample>(SpecificData.get(), Sample.getClassSchema());
        byte[] bytes = writeWith(v1, old);
        assertThrows(MissingSchemaException.class, () -> currentOnly.decode(bytes));
    }

    @Test
    void everyHistoryEntryIsAnOlderVersionOfAContractTypeThatTheCurrentReaderAccepts() {
        List<String> files = SchemaHistory.indexedFiles();
        assertTrue(files.size() >= 2, "history keeps at least the v1 Sample and ScoreRecord");
        for (String file : files) {
            Schema old = SchemaHistory.parse(file);
            Schema current = SpecificData.get().getSchema(SpecificData.get().getClass(old));
            assertTrue(file.startsWith(current.getFullName() + ".v"), file);
            // writerSchemasOf verifies reader/writer compatibility and throws naming the file otherwise
            assertTrue(SchemaHistory.writerSchemasOf(current).contains(old), file);
        }
    }

    private static GenericRecord workItem(Schema schema, GenericRecord model, GenericRecord sample, GenericRecord spec,
            GenericRecord meta) {
        GenericRecord item = new GenericData.Record(schema);
        item.put("experiment_id", "e");
        item.put("plan_hash", "h");
        item.put("model", model);
        item.put("sample", sample);
        item.put("conditions", List.of(spec));
        item.put("meta", meta);
        item.put("produced_at", 5L);
        return item;
    }

    private static byte[] writeWith(Schema writer, GenericRecord record) throws IOException {
        ByteBuffer buffer = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), writer).encode(record);
        byte[] bytes = new byte[buffer.remaining()];
        buffer.get(bytes);
        return bytes;
    }
}
