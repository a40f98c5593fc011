package dkv.scorers.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.ConditionSpec;
import dkv.avro.ExperimentMeta;
import dkv.avro.ModelRef;
import dkv.avro.Sample;
import dkv.avro.ScoreRecord;
import dkv.avro.WorkItem;
import dkv.scorers.fixtures.ReferenceFixture;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.score.FixtureFile;
import dkv.scorers.score.ScoreOptions;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link WorkItemScorer#scoreAll} on the llama fixture: an item that passes the up-front checks but is rejected
 * inside the batched call (its answer has no tokens) fails alone, and its neighbours get the HF reference NLLs
 * and their own experiment fields, the same as when scored one at a time.
 */
class WorkItemScorerTest {
    private static FixtureFile fixture;
    private static CausalLm model;
    private static WorkItemScorer scorer;

    @BeforeAll
    static void load() {
        fixture = ReferenceFixture.load("llama");
        model = ModelFamilies.loadCausal(fixture.dir(), Device.cpu(), DType.FLOAT32);
        scorer = new WorkItemScorer(ServedModel.of(model, "fixture-llama"), ScoreOptions.defaults().withWorker("w-1"));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static WorkItem item(String experiment, Sample sample) {
        return item(experiment, sample, fixture.conditions(sample.getId()));
    }

    private static WorkItem item(String experiment, Sample sample, List<ConditionSpec> conditions) {
        return WorkItem.newBuilder().setExperimentId(experiment).setPlanHash("hash-" + experiment)
                .setModel(ModelRef.newBuilder().setId("fixture-llama").setRevision(null).build())
                .setSample(sample).setConditions(conditions).setMeta(ExperimentMeta.newBuilder().setBaseline("base-" + experiment).setPlannedSamples(3).setPlannedConditions(1).build()).setProducedAt(1).build();
    }

    @Test
    void aPoisonItemFoundInsideTheBatchFailsAloneAndItsNeighboursScoreAsAlone() {
        Sample noAnswer = Sample.newBuilder(fixture.samples().get("s2")).setAnswer("").build();
        List<ConditionSpec> bareAnswer = fixture.conditions("s2").stream()
                .map(c -> ConditionSpec.newBuilder(c).setAnswerTemplate("{answer}").build()).toList();
        List<WorkItem> items = List.of(item("a", fixture.samples().get("s1")), item("b", noAnswer, bareAnswer),
                item("c", fixture.samples().get("s3")));

        List<WorkItemScorer.ItemResult> results = scorer.scoreAll(items);

        assertEquals(3, results.size());
        IllegalArgumentException poison = assertInstanceOf(WorkItemScorer.ItemResult.Failed.class, results.get(1)).reason();
        assertTrue(poison.getMessage().startsWith("work item b/s2: ") && poison.getMessage().contains("the answer has no tokens"),
                poison.getMessage());
        assertScoredAsAlone(items.get(0), results.get(0));
        assertScoredAsAlone(items.get(2), results.get(2));
        IllegalArgumentException alone = assertThrows(IllegalArgumentException.class, () -> scorer.score(items.get(1)));
        assertEquals(poison.getMessage(), alone.getMessage());
    }

    @Test
    void itemsOfDifferentExperimentsScoredTogetherKeepTheirOwnFieldsAndHfNlls() {
        List<WorkItem> items = List.of(item("x", fixture.samples().get("s1")), item("y", fixture.samples().get("s2")));

        List<WorkItemScorer.ItemResult> results = scorer.scoreAll(items);

        for (int i = 0; i < items.size(); i++) {
            List<ScoreRecord> records = assertInstanceOf(WorkItemScorer.ItemResult.Scored.class, results.get(i)).records();
            String sampleId = items.get(i).getSample().getId();
            assertEquals(fixture.conditions(sampleId).size(), records.size());
            for (ScoreRecord r : records) {
                assertEquals(items.get(i).getExperimentId(), r.getExperimentId());
                assertEquals(items.get(i).getPlanHash(), r.getPlanHash());
                assertEquals(sampleId, r.getSampleId());
                assertEquals("base-" + items.get(i).getExperimentId(), r.getMeta().getBaseline());
                assertEquals(fixture.expected(sampleId, r.getCondition()).get("nll_mean").asDouble(), r.getNllMean(), 2e-4,
                        sampleId + "/" + r.getCondition() + " against HF");
            }
        }
    }

    /**
     * A ranking item: every candidate is scored under every condition with its text in place of the passage, and its
     * records carry the query, the candidate and its relevance, with the NLLs HF gives for that passage.
     */
    @Test
    void aRankingItemScoresEachCandidateAsThePassage() {
        Sample s1 = fixture.samples().get("s1");
        Sample s2 = fixture.samples().get("s2");
        List<dkv.avro.Candidate> candidates = List.of(
                new dkv.avro.Candidate("c-relevant", s1.getPassage(), 1.0, "E"),
                new dkv.avro.Candidate("c-other", s2.getPassage(), 0.0, "I"));
        // s2's passage under s1's query and answer is scored like s1 with that passage: compare with a plain item
        Sample query = Sample.newBuilder(s1).setCandidates(candidates).build();
        List<ConditionSpec> conditions = fixture.conditions("s1");

        List<ScoreRecord> records = scorer.score(item("rank", query, conditions));
        List<ScoreRecord> asPassage = scorer.score(item("plain", Sample.newBuilder(s1).setPassage(s2.getPassage()).build(), conditions));

        assertEquals(2 * conditions.size(), records.size());
        for (int i = 0; i < records.size(); i++) {
            ScoreRecord r = records.get(i);
            dkv.avro.Candidate c = candidates.get(i / conditions.size());
            assertEquals("s1", r.getQueryId());
            assertEquals("s1", r.getSampleId());
            assertEquals(c.getId(), r.getCandidateId());
            assertEquals(c.getRelevance(), r.getRelevance());
            assertEquals("rank/s1/" + c.getId() + "/" + r.getCondition(), dkv.schemas.Topics.scoreKey(r));
            double expected = c.getId().equals("c-relevant")
                    ? fixture.expected("s1", r.getCondition()).get("nll_mean").asDouble()
                    : asPassage.get(i - conditions.size()).getNllMean();
            assertEquals(expected, r.getNllMean(), 2e-4, c.getId() + "/" + r.getCondition());
        }
    }

    /** Query likelihood: the scored tokens are the query's, after the query-free framing, and the answer is not read. */
    @Test
    void aQueryTargetScoresTheQueryTokens() {
        Sample s1 = Sample.newBuilder(fixture.samples().get("s1")).setAnswer("ignored answer text").build();
        ConditionSpec bare = ConditionSpec.newBuilder(fixture.conditions("s1").getFirst()).setPlacement(dkv.avro.Placement.NONE)
                .setSurrogate(null).setTarget(dkv.avro.ScoreTarget.QUERY).setQueryFreeTemplate("\n\nQuery:")
                .setAnswerTemplate(" {answer}").build();
        ScoreRecord r = scorer.score(item("ql", s1, List.of(bare))).getFirst();
        int queryTokens = model.tokenizer().encode(s1.getPassage() + "\n\nQuery: " + s1.getQuery()).length
                - model.tokenizer().encode(s1.getPassage() + "\n\nQuery:").length;
        assertEquals(queryTokens, r.getAnswerTokens());
        assertEquals(dkv.avro.ScoreTarget.QUERY, r.getTarget());
        int framing = model.tokenizer().encode(s1.getPassage() + "\n\nQuery:").length - model.tokenizer().encode(s1.getPassage()).length;
        assertEquals(framing, r.getSegments().getQuery(), "QUERY holds the framing only");
    }

    private static void assertScoredAsAlone(WorkItem item, WorkItemScorer.ItemResult result) {
        List<ScoreRecord> batched = assertInstanceOf(WorkItemScorer.ItemResult.Scored.class, result).records();
        List<ScoreRecord> alone = scorer.score(item);
        assertEquals(alone.size(), batched.size());
        for (int i = 0; i < alone.size(); i++) {
            assertEquals(alone.get(i).getCondition(), batched.get(i).getCondition());
            assertEquals(item.getExperimentId(), batched.get(i).getExperimentId());
            assertEquals(alone.get(i).getNllMean(), batched.get(i).getNllMean(), 1e-5, item.getSample().getId() + "/" + alone.get(i).getCondition());
            assertEquals(fixture.expected(item.getSample().getId(), alone.get(i).getCondition()).get("nll_mean").asDouble(),
                    batched.get(i).getNllMean(), 2e-4, "against HF");
        }
    }
}
