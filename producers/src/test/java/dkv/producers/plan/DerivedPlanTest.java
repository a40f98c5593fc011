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
        assertEquals(List.of(new DerivedCondition("gen_routed", DerivedKind.ROUTED, List.of("gen_q", "gen_k")),
                new DerivedCondition("gen_best", DerivedKind.BEST_OF, List.of("gen_k", "gen_q"))), meta.getDerived());
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
                .contains("$.derived[0].kind: unknown kind 'cosine' (expected routed or best_of)"));
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
}
