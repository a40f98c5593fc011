package dkv.scorers.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.ConditionSpec;
import dkv.avro.ExperimentMeta;
import dkv.avro.ModelRef;
import dkv.avro.Placement;
import dkv.avro.ScoreRecord;
import dkv.avro.WorkItem;
import dkv.platform.kafka.Outcome;
import dkv.scorers.fixtures.ReferenceFixture;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.recipe.UnsupportedConditionException;
import dkv.scorers.score.FixtureFile;
import dkv.scorers.score.ScoreOptions;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.schemas.Topics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The worker's batch function on the llama fixture: good items become one record per condition with the HF
 * reference NLLs and the item's experiment, plan hash, model and meta; each kind of poison item becomes a
 * failed outcome (a dead letter) with its reason, and the good items around it are still scored.
 */
class ScoreBatchFunctionTest {
    private static FixtureFile fixture;
    private static CausalLm model;
    private static ServedModel served;

    @BeforeAll
    static void load() {
        fixture = ReferenceFixture.load("llama");
        model = ModelFamilies.loadCausal(fixture.dir(), Device.cpu(), DType.FLOAT32);
        served = ServedModel.of(model, "fixture-llama");
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static WorkItem item(String sampleId, String modelId, List<ConditionSpec> conditions) {
        ExperimentMeta meta = ExperimentMeta.newBuilder().setBaseline("bare").setPlannedSamples(3).setPlannedConditions(conditions.size()).build();
        return WorkItem.newBuilder().setExperimentId("exp").setPlanHash("hash-1")
                .setModel(ModelRef.newBuilder().setId(modelId).setRevision(null).build())
                .setSample(fixture.samples().get(sampleId)).setConditions(conditions).setMeta(meta).setProducedAt(1).build();
    }

    private static ConsumerRecord<String, WorkItem> record(long offset, WorkItem item) {
        String key = item == null ? "none" : Topics.workKey(item.getExperimentId(), item.getSample().getId());
        return new ConsumerRecord<>(Topics.WORK, 0, offset, key, item);
    }

    @Test
    void scoresGoodItemsAndFailsPoisonOnesWithTheirReasons() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        ScorerMetrics metrics = new ScorerMetrics(registry, "w-1");
        ScoreBatchFunction function = ScoreBatchFunction.of(new WorkItemScorer(served, ScoreOptions.defaults().withWorker("w-1")), metrics);

        List<ConditionSpec> s1 = fixture.conditions("s1");
        ConditionSpec glm = ConditionSpec.newBuilder().setName("glm").setPlacement(Placement.PREFIX_LM).setSurrogate("q")
                .setRequiresFamily("glm").build();
        List<ConditionSpec> twice = new ArrayList<>(List.of(s1.getFirst(), s1.getFirst()));
        List<ConsumerRecord<String, WorkItem>> batch = List.of(
                record(0, item("s1", "fixture-llama", s1)),
                record(1, item("s2", "fixture-llama", List.of(fixture.conditions("s2").getFirst(), glm))),
                record(2, item("s2", "another-model", fixture.conditions("s2"))),
                record(3, item("s3", "fixture-llama", twice)),
                record(4, null),
                record(5, item("s3", "fixture-llama", fixture.conditions("s3"))));

        List<Outcome<String, ScoreRecord>> outcomes = function.apply(batch);

        assertEquals(batch.size(), outcomes.size());
        assertScoredLikeHf(outcomes.get(0), "s1");
        Throwable unsupported = assertInstanceOf(Outcome.Failed.class, outcomes.get(1)).error();
        assertInstanceOf(UnsupportedConditionException.class, unsupported);
        assertTrue(unsupported.getMessage().contains("work item exp/s2") && unsupported.getMessage().contains("requires model family 'glm'"),
                unsupported.getMessage());
        Throwable mismatch = assertInstanceOf(Outcome.Failed.class, outcomes.get(2)).error();
        assertInstanceOf(ModelMismatchException.class, mismatch);
        assertTrue(mismatch.getMessage().startsWith("work item wants model 'another-model' but this worker serves 'fixture-llama'"),
                mismatch.getMessage());
        Throwable duplicate = assertInstanceOf(Outcome.Failed.class, outcomes.get(3)).error();
        assertEquals("work item exp/s3: condition 'bare' appears twice", duplicate.getMessage());
        assertInstanceOf(Outcome.Failed.class, outcomes.get(4));
        assertScoredLikeHf(outcomes.get(5), "s3");

        double records = s1.size() + fixture.conditions("s3").size();
        assertEquals(records, registry.get("dkv.scorer.records").counter().count());
        assertEquals(4, registry.get("dkv.scorer.work.items").tag("outcome", "dead_letter").counter().count());
        assertEquals(2, registry.get("dkv.scorer.latency").tag("condition", "bare").timer().count(),
                "the bare condition of s1 and s3 timed once each");
    }

    @Test
    void aWorkerOnAnotherModelSaysSoOnceWithTheFixInsteadOfALinePerItem() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        ScoreBatchFunction function = ScoreBatchFunction.of(new WorkItemScorer(served, ScoreOptions.defaults().withWorker("w-1")),
                new ScorerMetrics(registry, "w-1"));
        List<ConsumerRecord<String, WorkItem>> batch = List.of(
                record(0, item("s1", "dkv-tiny-llama", fixture.conditions("s1"))),
                record(1, item("s2", "dkv-tiny-llama", fixture.conditions("s2"))),
                record(2, item("s3", "dkv-tiny-llama", fixture.conditions("s3"))));
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            function.apply(batch);
            function.apply(batch.subList(0, 1));
        } finally {
            System.setErr(original);
        }
        List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains("dead letter")).toList();
        assertEquals(1, lines.size(), String.join("\n", lines));
        assertTrue(lines.getFirst().contains("work item wants model 'dkv-tiny-llama' but this worker serves 'fixture-llama'")
                && lines.getFirst().contains("restart the scorer with --model-id dkv-tiny-llama"), lines.getFirst());
        assertEquals(4, registry.get("dkv.scorer.work.items").tag("outcome", "dead_letter").counter().count(),
                "every refused item is still counted");
    }

    @Test
    void aWorkItemMatchesByIdAndByRevisionWhereItNamesOne() {
        served.requireMatch(ModelRef.newBuilder().setId("fixture-llama").setRevision(null).build());
        served.requireMatch(ModelRef.newBuilder().setId("fixture-llama").setRevision(model.snapshot().revision()).build());
        ModelMismatchException other = assertThrows(ModelMismatchException.class,
                () -> served.requireMatch(ModelRef.newBuilder().setId("fixture-llama").setRevision("0123abcd").build()));
        assertTrue(other.getMessage().startsWith("work item wants model 'fixture-llama' (revision 0123abcd) but this worker serves"),
                other.getMessage());
        assertEquals("the work pins revision 0123abcd: serve that snapshot", other.fix());
    }

    private static void assertScoredLikeHf(Outcome<String, ScoreRecord> outcome, String sampleId) {
        List<ProducerRecord<String, ScoreRecord>> produced = assertInstanceOf(Outcome.Produced.class, outcome).records();
        List<ConditionSpec> conditions = fixture.conditions(sampleId);
        assertEquals(conditions.size(), produced.size());
        for (int i = 0; i < produced.size(); i++) {
            ProducerRecord<String, ScoreRecord> out = produced.get(i);
            ScoreRecord r = out.value();
            String condition = conditions.get(i).getName();
            assertEquals(Topics.SCORES, out.topic());
            assertEquals("exp/" + sampleId + "/" + condition, out.key());
            assertEquals(condition, r.getCondition());
            assertEquals("exp", r.getExperimentId());
            assertEquals("hash-1", r.getPlanHash());
            assertEquals("fixture-llama", r.getModel().getId());
            assertEquals(model.snapshot().revision(), r.getModel().getRevision());
            assertEquals("bare", r.getMeta().getBaseline());
            assertEquals("w-1", r.getWorker());
            assertEquals("cpu", r.getDevice());
            assertEquals("float32", r.getDtype());
            assertTrue(r.getScoreMs() > 0);
            assertEquals(fixture.expected(sampleId, condition).get("nll_mean").asDouble(), r.getNllMean(), 2e-4,
                    sampleId + "/" + condition + " against HF");
            assertEquals(conditions.get(i).getCaptureAttention(), r.getAttention() != null,
                    condition + ": attention only where the condition asks");
        }
    }
}
