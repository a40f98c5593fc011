package dkv.producers.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.ConditionSpec;
import dkv.avro.CrossMask;
import dkv.avro.ExperimentMeta;
import dkv.avro.ModelRef;
import dkv.avro.Placement;
import dkv.avro.RopeCorrection;
import dkv.avro.Sample;
import dkv.avro.WorkItem;
import dkv.producers.corpus.Corpus;
import dkv.producers.surrogate.GeneratorResources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PlanTest {
    private static final String SCORE_FORMAT = """
            {"query_template": "\\n\\nQuestion: {query}\\nAnswer:", "query_free_template": "\\n\\nAnswer:",
             "answer_template": " {answer}",
             "conditions": [
               {"name": "bare", "placement": "NONE"},
               {"name": "oracle_trunc", "placement": "PREFIX_TRUNCATED", "surrogate": "{query}", "separator": "\\n",
                "rope_correction": "HALF_SPLIT", "query_free": false},
               {"name": "about_suffix", "placement": "SUFFIX", "surrogate": "About {passage}", "rope_correction": "NONE"}
             ]}""";

    static Plan parse(String json) {
        return Plan.parse(json, "p.json", "p", Path.of("."));
    }

    static PlanException error(String json) {
        return assertThrows(PlanException.class, () -> parse(json));
    }

    static Sample sample() {
        return Sample.newBuilder().setId("s1").setDataset("d").setQuery("what is rba").setPassage("RBA is a bank.")
                .setAnswer("a bank").setPassages(List.of()).setQueryType(null).setExtra(Map.of()).build();
    }

    @Test
    void readsTheScoreFormatWithDefaults() {
        Plan plan = parse(SCORE_FORMAT);
        assertEquals("p", plan.experimentId());
        assertEquals("bare", plan.baseline(), "defaults to the first NONE condition");
        assertEquals(42, plan.seed());
        List<ConditionSpec> specs = plan.expander(GeneratorResources.none(), Corpus.empty(42)).conditionsFor(sample());
        ConditionSpec bare = specs.get(0);
        assertEquals(Placement.NONE, bare.getPlacement());
        assertEquals(null, bare.getSurrogate());
        assertEquals(null, bare.getSurrogateKind());
        assertEquals("{passage}", bare.getDocumentTemplate());
        assertEquals("\n\nQuestion: {query}\nAnswer:", bare.getQueryTemplate());
        assertEquals(" {answer}", bare.getAnswerTemplate());
        assertEquals(RopeCorrection.HALF_SPLIT, bare.getRopeCorrection());
        assertTrue(bare.getKeepBos());
        ConditionSpec oracle = specs.get(1);
        assertEquals("what is rba", oracle.getSurrogate());
        assertEquals("oracle", oracle.getSurrogateKind());
        assertEquals("\n", oracle.getSeparator());
        ConditionSpec about = specs.get(2);
        assertEquals("About RBA is a bank.", about.getSurrogate());
        assertEquals("static", about.getSurrogateKind());
        assertEquals(RopeCorrection.NONE, about.getRopeCorrection());
    }

    @Test
    void planLevelDefaultsAreInheritedAndOverridden() {
        Plan plan = parse("""
                {"separator": " :: ", "keep_bos": false, "capture_attention": true, "document_template": "Document:\\n{passage}",
                 "conditions": [{"name": "bare"},
                                {"name": "s", "placement": "SUFFIX", "surrogate_kind": "oracle", "keep_bos": true, "separator": "\\n"}]}""");
        PlanCondition bare = plan.conditions().get(0);
        PlanCondition s = plan.conditions().get(1);
        assertEquals(" :: ", bare.separator());
        assertEquals("\n", s.separator());
        assertEquals(false, bare.keepBos());
        assertEquals(true, s.keepBos());
        assertEquals(true, s.captureAttention());
        assertEquals("Document:\n{passage}", s.documentTemplate());
    }

    @Test
    void hashIgnoresFormattingAndKeyOrderButNotContent() {
        String a = "{\"seed\": 7, \"conditions\": [{\"name\": \"bare\"}, {\"name\": \"k\", \"placement\": \"SUFFIX\", \"surrogate_kind\": \"keywords\", \"k\": 3}]}";
        String b = """
                {
                  "conditions": [
                    {"placement": "NONE", "name": "bare", "separator": "\\n"},
                    {"k": 3, "surrogate_kind": "keywords", "name": "k", "placement": "suffix", "rope_correction": "HALF_SPLIT"}
                  ],
                  "seed": 7
                }""";
        assertEquals(parse(a).hash(), parse(b).hash());
        assertEquals(16, parse(a).hash().length());
        assertNotEquals(parse(a).hash(), parse(a.replace("\"k\": 3", "\"k\": 4")).hash());
        assertNotEquals(parse(a).hash(), parse(a.replace("\"seed\": 7", "\"seed\": 8")).hash());
    }

    @Test
    void workItemCarriesPlanHashModelAndMeta() {
        Plan plan = parse("""
                {"experiment_id": "e1", "model": {"id": "m", "revision": "abc"}, "samples": 10, "oracle": "o",
                 "contrasts": [{"name": "o_vs_s", "a": "o", "b": "s"}], "correlations": [{"a": "o", "b": "s"}],
                 "conditions": [{"name": "bare"}, {"name": "o", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "oracle", "group": "g"},
                                {"name": "s", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "static", "surrogate": "x"}]}""");
        ModelRef model = plan.model().orElseThrow();
        assertEquals("abc", model.getRevision());
        WorkItem item = plan.expander(GeneratorResources.none(), Corpus.empty(42)).workItem(sample(), model, 10, 1234L);
        assertEquals("e1", item.getExperimentId());
        assertEquals(plan.hash(), item.getPlanHash());
        assertEquals(3, item.getConditions().size());
        assertEquals("g", item.getConditions().get(1).getGroup());
        ExperimentMeta meta = item.getMeta();
        assertEquals("bare", meta.getBaseline());
        assertEquals("o", meta.getOracle());
        assertEquals(10, meta.getPlannedSamples());
        assertEquals(3, meta.getPlannedConditions());
        assertEquals("o_vs_s", meta.getContrasts().getFirst().getName());
        assertEquals("o_vs_s", meta.getCorrelations().getFirst().getName());
        assertEquals(1234L, item.getProducedAt());
    }

    @Test
    void aPinnedModelIsParsedAndChangesTheHashOnlyWhenSet() {
        String body = "\"conditions\": [{\"name\": \"bare\", \"placement\": \"NONE\"}]}";
        Plan plain = Plan.parse("{\"model\": {\"id\": \"m\"}, " + body, "plain", "e", Path.of("."));
        Plan unpinned = Plan.parse("{\"model\": {\"id\": \"m\", \"pinned\": false}, " + body, "unpinned", "e", Path.of("."));
        Plan pinned = Plan.parse("{\"model\": {\"id\": \"m\", \"pinned\": true}, " + body, "pinned", "e", Path.of("."));
        assertFalse(plain.modelPinned());
        assertTrue(pinned.modelPinned());
        assertFalse(plain.canonicalJson().contains("pinned"), "plans that do not pin keep their hashes");
        assertEquals(plain.hash(), unpinned.hash());
        assertNotEquals(plain.hash(), pinned.hash());
        assertTrue(pinned.withModel(plain.model().orElseThrow()).modelPinned());
    }

    @Test
    void prefixLmAndEncoderPlacementsAreMarkedWithTheirFamily() {
        Plan plan = parse("""
                {"conditions": [{"name": "bare"}, {"name": "lm", "placement": "PREFIX_LM", "surrogate_kind": "oracle"},
                                {"name": "enc", "placement": "ENCODER_COENCODE_MASKED", "surrogate_kind": "oracle"},
                                {"name": "enc_bare", "placement": "ENCODER_COENCODE"}]}""");
        assertEquals("glm", plan.conditions().get(1).requiresFamily().orElseThrow());
        assertEquals("t5gemma2", plan.conditions().get(2).requiresFamily().orElseThrow());
        assertEquals("t5gemma2", plan.conditions().get(3).requiresFamily().orElseThrow());
        assertTrue(plan.conditions().get(0).requiresFamily().isEmpty());
    }

    @Test
    void aMaskedCoEncodeConditionMayAskForTheResearchOffByOneMask() {
        String enc = "{\"name\": \"bare\", \"placement\": \"ENCODER_COENCODE\"}, "
                + "{\"name\": \"masked\", \"placement\": \"ENCODER_COENCODE_MASKED\", \"surrogate_kind\": \"oracle\"";
        Plan plain = parse("{\"baseline\": \"bare\", \"conditions\": [" + enc + "}]}");
        Plan research = parse("{\"baseline\": \"bare\", \"conditions\": [" + enc + ", \"cross_mask\": \"RESEARCH_OFF_BY_ONE\"}]}");
        assertEquals(CrossMask.PREFIX, plain.conditions().get(1).crossMask());
        assertEquals(CrossMask.RESEARCH_OFF_BY_ONE, research.conditions().get(1).crossMask());
        assertEquals(CrossMask.RESEARCH_OFF_BY_ONE,
                research.expander(GeneratorResources.none(), Corpus.empty(42)).conditionsFor(sample()).get(1).getCrossMask());
        assertFalse(plain.canonicalJson().contains("cross_mask"), "plans that do not ask keep their hashes");
        assertNotEquals(plain.hash(), research.hash());
        assertTrue(error("{\"conditions\": [{\"name\": \"bare\", \"cross_mask\": \"RESEARCH_OFF_BY_ONE\"}]}").getMessage()
                .contains("$.conditions[0].cross_mask: only placement ENCODER_COENCODE_MASKED hides encoder tokens"));
        assertTrue(error("{\"baseline\": \"bare\", \"conditions\": [" + enc + ", \"cross_mask\": \"HALF\"}]}").getMessage()
                .contains("$.conditions[1].cross_mask: unknown value 'HALF'"));
    }

    @Test
    void errorsNameFileAndJsonPath() {
        assertTrue(error("{\"conditions\": [{\"name\": \"bare\", \"placement\": \"SIDEWAYS\"}]}").getMessage()
                .startsWith("p.json: $.conditions[0].placement: unknown value 'SIDEWAYS'"));
        assertTrue(error("{\"conditions\": [{\"name\": \"bare\"}, {\"name\": \"bare\"}]}").getMessage()
                .contains("$.conditions[1].name: duplicate condition name 'bare'"));
        assertTrue(error("{\"conditions\": [{\"name\": \"bare\"}], \"baseline\": \"nope\"}").getMessage()
                .contains("$.baseline: no condition named 'nope'"));
        assertTrue(error("{\"conditions\": [{\"name\": \"bare\"}], \"contrasts\": [{\"a\": \"bare\", \"b\": \"x\"}]}").getMessage()
                .contains("$.contrasts[0].b: no condition named 'x'"));
        assertTrue(error("{\"conditions\": [{\"name\": \"bare\"}], \"sed\": 4}").getMessage()
                .contains("$.sed: unknown key"));
        assertTrue(error("{\"conditions\": [{\"name\": \"bare\"}, {\"name\": \"t\", \"placement\": \"PREFIX_TRUNCATED\"}]}").getMessage()
                .contains("$.conditions[1]: placement PREFIX_TRUNCATED needs a surrogate"));
        assertTrue(error("{\"conditions\": [{\"name\": \"bare\", \"surrogate_kind\": \"oracle\"}]}").getMessage()
                .contains("$.conditions[0].surrogate_kind: placement NONE has no surrogate"));
        assertTrue(error("{\"conditions\": [{\"name\": \"bare\"}, {\"name\": \"t\", \"placement\": \"SUFFIX\", \"surrogate_kind\": \"psychic\"}]}").getMessage()
                .contains("$.conditions[1].surrogate_kind: unknown kind 'psychic'"));
        assertEquals("p.json: $.conditions[1].of: required", error(
                "{\"conditions\": [{\"name\": \"bare\"}, {\"name\": \"s\", \"placement\": \"SUFFIX\", \"surrogate_kind\": \"shuffled\"}]}").getMessage());
        assertTrue(error("{\"conditions\": [{\"name\": \"bare\", \"keep_bos\": \"yes\"}]}").getMessage()
                .contains("$.conditions[0].keep_bos: expected true or false"));
        assertTrue(error("{\"conditions\": []}").getMessage().contains("$.conditions: expected a non-empty list"));
        assertTrue(error("{\"conditions\": [{\"name\": \"s\", \"placement\": \"SUFFIX\", \"surrogate_kind\": \"oracle\"}]}").getMessage()
                .contains("$.baseline: required"));
        assertTrue(error("{\"experiment_id\": \"a/b\", \"conditions\": [{\"name\": \"bare\"}]}").getMessage()
                .contains("$.experiment_id: must be non-empty and contain no '/'"));
        assertTrue(error("{\"conditions\": [{\"name\": \"bare\"}, \n  {\"name\": ").getMessage()
                .startsWith("p.json: line 2: not valid JSON"));
    }

    @Test
    void shuffleCyclesAreRejected() {
        assertTrue(error("""
                {"conditions": [{"name": "bare"},
                  {"name": "a", "placement": "SUFFIX", "surrogate_kind": "shuffled", "of": "b"},
                  {"name": "b", "placement": "SUFFIX", "surrogate_kind": "shuffled", "of": "a"}]}""").getMessage()
                .contains("surrogate references form a cycle"));
    }

    @Test
    void loadsFromFileWithExperimentIdFromItsName(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("my-exp.json");
        Files.writeString(file, SCORE_FORMAT);
        assertEquals("my-exp", Plan.load(file).experimentId());
        assertEquals(dir.resolve("none.json") + ": plan file not found",
                assertThrows(PlanException.class, () -> Plan.load(dir.resolve("none.json"))).getMessage());
        assertEquals("my-exp", Plan.loadFileOrPreset(file.toString()).experimentId());
        assertEquals("v2-exp06", Plan.loadFileOrPreset("v2-exp06").experimentId());
        assertTrue(assertThrows(PlanException.class, () -> Plan.loadFileOrPreset("v9-nothing")).getMessage()
                .contains("no such preset"));
    }
}
