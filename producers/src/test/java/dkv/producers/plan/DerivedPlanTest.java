package dkv.producers.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.DerivedCondition;
import dkv.avro.DerivedKind;
import dkv.avro.ExperimentMeta;
import dkv.avro.ModelRef;
import dkv.avro.WorkItem;
import dkv.producers.corpus.Corpus;
import dkv.producers.surrogate.GeneratorResources;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The plan's {@code derived} list: parsed, validated with the JSON path, carried in ExperimentMeta and the hash. */
class DerivedPlanTest {
    static final String CONDITIONS = """
            "conditions": [{"name": "bare"},
              {"name": "gen_q", "placement": "PREFIX_TRUNCATED", "surrogate": "what is {query}"},
              {"name": "gen_k", "placement": "PREFIX_TRUNCATED", "surrogate": "keywords {query}"},
              {"name": "static", "placement": "PREFIX_TRUNCATED", "surrogate": "what is this about"}]""";

    static Plan parse(String rest) {
        return Plan.parse("{" + CONDITIONS + rest + "}", "p.json", "p", Path.of("."));
    }

    static String error(String rest) {
        return assertThrows(PlanException.class, () -> parse(rest)).getMessage();
    }

    @Test
    void derivedConditionsTravelInTheMetaOfEveryWorkItem() {
        Plan plan = parse("""
                , "oracle": "gen_best", "contrasts": [{"name": "r_vs_s", "a": "gen_routed", "b": "static"}],
                  "correlations": [{"a": "gen_routed", "b": "gen_best"}],
                  "derived": [{"name": "gen_routed", "kind": "routed", "members": ["gen_q", "gen_k"]},
                              {"name": "gen_best", "kind": "BEST_OF", "members": ["gen_k", "gen_q"]}]""");
        WorkItem item = plan.expander(GeneratorResources.none(), Corpus.empty(42)).workItem(PlanTest.sample(),
                new ModelRef("m", null), 5, 1L);
        ExperimentMeta meta = item.getMeta();
        assertEquals(List.of(new DerivedCondition("gen_routed", DerivedKind.ROUTED, List.of("gen_q", "gen_k"), List.of()),
                new DerivedCondition("gen_best", DerivedKind.BEST_OF, List.of("gen_k", "gen_q"), List.of())), meta.getDerived());
        assertEquals(4, meta.getPlannedConditions(), "derived conditions are not scored");
        assertEquals(4, item.getConditions().size());
        assertEquals("gen_best", meta.getOracle(), "the oracle may be derived");
        assertEquals("gen_routed", meta.getContrasts().getFirst().getA());
    }

    @Test
    void theHashChangesOnlyWhereDerivedConditionsAreSet() {
        Plan without = parse("");
        assertFalse(without.canonicalJson().contains("derived"), "plans from before keep their hashes");
        assertEquals(without.hash(), parse(", \"derived\": []").hash());
        Plan routed = parse(", \"derived\": [{\"name\": \"r\", \"kind\": \"routed\", \"members\": [\"gen_q\", \"gen_k\"]}]");
        Plan reordered = parse(", \"derived\": [{\"name\": \"r\", \"kind\": \"routed\", \"members\": [\"gen_k\", \"gen_q\"]}]");
        assertNotEquals(without.hash(), routed.hash());
        assertNotEquals(routed.hash(), reordered.hash(), "member order breaks ties, so it is part of the plan");
        assertTrue(routed.canonicalJson().contains("\"kind\":\"routed\""), routed.canonicalJson());
        assertEquals(routed.hash(), parse(", \"derived\": [{\"members\": [\"gen_q\", \"gen_k\"], \"kind\": \"ROUTED\", "
                + "\"name\": \"r\"}]").hash());
    }

    @Test
    void errorsNameThePathOfTheProblem() {
        assertTrue(error(", \"derived\": [{\"name\": \"r\", \"kind\": \"routed\", \"members\": [\"gen_q\", \"nope\"]}]")
                .contains("$.derived[0].members[1]: no scored condition named 'nope'"));
        assertTrue(error(", \"derived\": [{\"name\": \"b\", \"kind\": \"best_of\", \"members\": [\"gen_q\", \"gen_k\"]},"
                + " {\"name\": \"r\", \"kind\": \"routed\", \"members\": [\"gen_q\", \"b\"]}]")
                .contains("$.derived[1].members[1]: 'b' is derived; members must be scored conditions"));
        assertTrue(error(", \"derived\": [{\"name\": \"r\", \"kind\": \"routed\", \"members\": [\"gen_q\", \"gen_q\"]}]")
                .contains("$.derived[0].members[1]: 'gen_q' is listed twice"));
        assertTrue(error(", \"derived\": [{\"name\": \"r\", \"kind\": \"routed\", \"members\": [\"gen_q\"]}]")
                .contains("$.derived[0].members: expected a list of at least two scored conditions"));
        assertTrue(error(", \"derived\": [{\"name\": \"static\", \"kind\": \"routed\", \"members\": [\"gen_q\", \"gen_k\"]}]")
                .contains("$.derived[0].name: 'static' is a scored condition"));
        assertTrue(error(", \"derived\": [{\"name\": \"r\", \"kind\": \"routed\", \"members\": [\"gen_q\", \"gen_k\"]},"
                + " {\"name\": \"r\", \"kind\": \"best_of\", \"members\": [\"gen_q\", \"gen_k\"]}]")
                .contains("$.derived[1].name: duplicate derived condition name 'r'"));
        assertTrue(error(", \"derived\": [{\"name\": \"r\", \"kind\": \"cosine\", \"members\": [\"gen_q\", \"gen_k\"]}]")
                .contains("$.derived[0].kind: unknown kind 'cosine' (expected routed, best_of, routed_by_nll or rank_average)"));
        assertTrue(error(", \"derived\": [{\"name\": \"r\", \"members\": [\"gen_q\", \"gen_k\"]}]")
                .contains("$.derived[0].kind: required"));
        assertTrue(error(", \"derived\": [{\"name\": \"r\", \"kind\": \"routed\", \"members\": [\"gen_q\", \"gen_k\"], "
                + "\"by\": \"cosine\"}]").contains("$.derived[0].by: unknown key"));
        assertTrue(error(", \"derived\": {\"name\": \"r\"}").contains("$.derived: expected a list"));
        assertTrue(error(", \"oracle\": \"nope\", \"derived\": [{\"name\": \"r\", \"kind\": \"routed\", "
                + "\"members\": [\"gen_q\", \"gen_k\"]}]").contains("$.oracle: no condition named 'nope'"));
        assertTrue(error(", \"baseline\": \"r\", \"derived\": [{\"name\": \"r\", \"kind\": \"routed\", "
                + "\"members\": [\"gen_q\", \"gen_k\"]}]").contains("$.baseline: no condition named 'r'"),
                "the baseline must be scored");
        assertTrue(error(", \"ranking\": true, \"derived\": [{\"name\": \"r\", \"kind\": \"routed\", "
                + "\"members\": [\"gen_q\", \"gen_k\"]}]").contains("$.derived: derived conditions pick per sample"));
    }

    /** Members, and per member a signal: the same cache with the query as the scored target. */
    static final String SIGNALED = """
            "conditions": [{"name": "bare"},
              {"name": "gen_q", "placement": "PREFIX_TRUNCATED", "surrogate": "what is {query}"},
              {"name": "static", "placement": "PREFIX_TRUNCATED", "surrogate": "what is this about"},
              {"name": "bare_q", "target": "QUERY", "query_free_template": "\\n\\n", "answer_template": "Question: {answer}"},
              {"name": "gen_q_q", "placement": "PREFIX_TRUNCATED", "surrogate": "what is {query}", "target": "QUERY"},
              {"name": "static_q", "placement": "PREFIX_TRUNCATED", "surrogate": "what is this about", "target": "QUERY"},
              {"name": "static_full_q", "placement": "PREFIX_FULL", "surrogate": "what is this about", "target": "QUERY"},
              {"name": "gen_k_q", "placement": "PREFIX_TRUNCATED", "surrogate": "keywords {query}", "target": "QUERY"}]""";
    static final String POOL = "\"members\": [\"bare\", \"gen_q\", \"static\"]";

    static Plan signaled(String rest) {
        return Plan.parse("{" + SIGNALED + rest + "}", "p.json", "p", Path.of("."));
    }

    static String signaledError(String rest) {
        return assertThrows(PlanException.class, () -> signaled(rest)).getMessage();
    }

    static String router(String kind, String signals) {
        return ", \"derived\": [{\"name\": \"r\", \"kind\": \"" + kind + "\", " + POOL
                + (signals == null ? "" : ", \"signals\": [" + signals + "]") + "}]";
    }

    @Test
    void nllRoutersCarryTheirSignalsInTheMetaAndTheHash() {
        Plan plan = signaled(", \"derived\": [{\"name\": \"by_nll\", \"kind\": \"routed_by_nll\", " + POOL
                + ", \"signals\": [\"bare_q\", \"gen_q_q\", \"static_q\"]}, {\"name\": \"ranked\", \"kind\": "
                + "\"RANK_AVERAGE\", " + POOL + ", \"signals\": [\"bare_q\", \"gen_q_q\", \"static_q\"]}]");
        ExperimentMeta meta = plan.meta(5);
        List<String> members = List.of("bare", "gen_q", "static");
        List<String> signals = List.of("bare_q", "gen_q_q", "static_q");
        assertEquals(List.of(new DerivedCondition("by_nll", DerivedKind.ROUTED_BY_NLL, members, signals),
                new DerivedCondition("ranked", DerivedKind.RANK_AVERAGE, members, signals)), meta.getDerived());
        assertEquals(8, meta.getPlannedConditions(), "signals are scored");
        assertTrue(plan.canonicalJson().contains("\"signals\":[\"bare_q\",\"gen_q_q\",\"static_q\"]"), plan.canonicalJson());
        Plan routed = signaled(router("routed", null));
        assertFalse(routed.canonicalJson().contains("signals"), "plans without signals keep their hashes");
        assertNotEquals(plan.hash(), signaled(", \"derived\": [{\"name\": \"by_nll\", \"kind\": \"routed_by_nll\", "
                + POOL + ", \"signals\": [\"bare_q\", \"gen_q_q\", \"static_q\"]}]").hash());
    }

    @Test
    void signalsMustScoreTheQueryOnTheirMembersCache() {
        assertTrue(signaledError(router("routed_by_nll", null)).contains("$.derived[0].signals: required for routed_by_nll:"
                + " per member, the condition that scores the query on that member's cache (\"target\": \"QUERY\")"));
        assertTrue(signaledError(router("routed", "\"bare_q\", \"gen_q_q\", \"static_q\""))
                .contains("$.derived[0].signals: routed takes no signals (only routed_by_nll and rank_average route by one)"));
        assertTrue(signaledError(router("rank_average", "\"bare_q\", \"gen_q_q\""))
                .contains("$.derived[0].signals: expected a list of 3 condition names, one per member in members order"));
        assertTrue(signaledError(router("rank_average", "\"bare_q\", \"nope\", \"static_q\""))
                .contains("$.derived[0].signals[1]: no scored condition named 'nope'"));
        assertTrue(signaledError(router("rank_average", "\"bare_q\", \"gen_q_q\", \"gen_q_q\""))
                .contains("$.derived[0].signals[2]: 'gen_q_q' is listed twice"));
        assertTrue(signaledError(router("routed_by_nll", "\"bare_q\", \"gen_q_q\", \"gen_q\""))
                .contains("$.derived[0].signals[2]: 'gen_q' scores the answer; a signal scores the query (\"target\": \"QUERY\")"));
        assertTrue(signaledError(router("routed_by_nll", "\"bare_q\", \"gen_q_q\", \"static_full_q\""))
                .contains("$.derived[0].signals[2]: 'static_full_q' does not build the cache of member 'static': placement "
                        + "PREFIX_TRUNCATED vs PREFIX_FULL"));
        assertTrue(signaledError(router("routed_by_nll", "\"bare_q\", \"gen_k_q\", \"static_q\""))
                .contains("$.derived[0].signals[1]: 'gen_k_q' does not build the cache of member 'gen_q': surrogate "
                        + "\"what is {query}\" vs \"keywords {query}\""));
        assertTrue(signaledError(router("routed_by_nll", "\"gen_q_q\", \"bare_q\", \"static_q\""))
                .contains("$.derived[0].signals[0]: 'gen_q_q' does not build the cache of member 'bare': placement NONE vs "
                        + "PREFIX_TRUNCATED"), "in members order");
        assertTrue(signaledError(", \"derived\": [{\"name\": \"b\", \"kind\": \"best_of\", \"members\": [\"bare\", "
                + "\"gen_q_q\"]}]").contains("$.derived[0].members[1]: 'gen_q_q' scores the query (target QUERY); members "
                + "are picked by and compared on answer NLLs"));
    }

    @Test
    void aSignalIsNeverCompared() {
        String signals = router("routed_by_nll", "\"bare_q\", \"gen_q_q\", \"static_q\"");
        assertTrue(signaledError(", \"baseline\": \"bare_q\"" + signals)
                .contains("$.baseline: 'bare_q' is a routing signal (it scores the query); statistics compare answer NLLs"));
        assertTrue(signaledError(", \"oracle\": \"static_q\"" + signals).contains("$.oracle: 'static_q' is a routing signal"));
        assertTrue(signaledError(", \"contrasts\": [{\"a\": \"r\", \"b\": \"gen_q_q\"}]" + signals)
                .contains("$.contrasts[0].b: 'gen_q_q' is a routing signal"));
        assertTrue(signaledError(", \"correlations\": [{\"a\": \"bare_q\", \"b\": \"r\"}]" + signals)
                .contains("$.correlations[0].a: 'bare_q' is a routing signal"));
        // a query-likelihood condition that no router reads stays an ordinary condition
        assertEquals("static_full_q", signaled(", \"oracle\": \"static_full_q\"" + signals).oracle().orElseThrow());
    }

    /**
     * Similarity routers (routed, rank_average) need every member's similarity: the producer asks the workers to embed
     * the members it makes itself, a member without a surrogate as its passage (the notebook's bare cache). The NLL
     * router reads no similarity and asks for none.
     */
    @Test
    void similarityRoutersEmbedTheirMembersAndTheBarePassage() {
        String generation = ", \"generation\": {\"embedder\": \"e\"}";
        Plan ranked = signaled(generation + router("rank_average", "\"bare_q\", \"gen_q_q\", \"static_q\""));
        assertEquals(List.of("bare", "gen_q", "static"), ranked.embeddedOnly().stream().map(PlanCondition::name).toList());
        var texts = ranked.expander(GeneratorResources.none(), Corpus.empty(42)).embeddedOnlyTexts(PlanTest.sample());
        assertEquals("RBA is a bank.", texts.get("bare"));
        assertEquals("what is what is rba", texts.get("gen_q"));
        Plan byNll = signaled(generation + router("routed_by_nll", "\"bare_q\", \"gen_q_q\", \"static_q\""));
        assertEquals(List.of(), byNll.embeddedOnly());
    }
}
