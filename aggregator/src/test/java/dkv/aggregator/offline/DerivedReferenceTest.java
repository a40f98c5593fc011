package dkv.aggregator.offline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.aggregator.json.StatsJson;
import dkv.aggregator.state.ExperimentPlan.Derived;
import dkv.aggregator.state.ExperimentPlan.Pair;
import java.io.InputStream;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Derived conditions (routed, best_of, routed_by_nll, rank_average) end to end through {@code dkv aggregate}'s pipeline
 * against ops/reference/derived_reference.py: the picks (ties, members and signals never scored, records without a
 * similarity, re-deliveries with another similarity or signal NLL, SciPy's average ranks and the first minimum of
 * their mean), the derived NLLs' paired statistics among the scored ones (families of Bonferroni/Holm, quintiles,
 * anytime monitors fed when the completing record arrives, a derived oracle, contrasts and correlations naming
 * derived conditions; signals compared with nothing) and every router against the oracle.
 */
class DerivedReferenceTest {
    static final List<Derived> DERIVED = List.of(
            Derived.parse("gen_routed=routed:gen_question,gen_keywords,gen_symptom,gen_myth,gen_messy"),
            Derived.parse("gen_best=best_of:gen_myth,gen_messy,gen_keywords,gen_question,gen_symptom"),
            Derived.parse("pool_routed=routed:bare,static_define,static_facts,gen_question,gen_keywords"),
            Derived.parse("pool_by_nll=routed_by_nll:bare,static_define,static_facts,gen_question,gen_keywords"
                    + "/bare_qnll,static_define_qnll,static_facts_qnll,gen_question_qnll,gen_keywords_qnll"),
            Derived.parse("pool_rank=rank_average:bare,static_define,static_facts,gen_question,gen_keywords"
                    + "/bare_qnll,static_define_qnll,static_facts_qnll,gen_question_qnll,gen_keywords_qnll"),
            Derived.parse("pool_rank_reversed=rank_average:gen_keywords,gen_question,static_facts,static_define,bare"
                    + "/gen_keywords_qnll,gen_question_qnll,static_facts_qnll,static_define_qnll,bare_qnll"),
            Derived.parse("pool_best=best_of:bare,static_define,static_facts,gen_question,gen_keywords"),
            Derived.parse("static_best=best_of:static_define,static_facts"));

    static ObjectNode aggregate() throws Exception {
        var options = new OfflineAggregation.Options("bare", "gen_best",
                List.of(Pair.parse("routed_vs_static=gen_routed:static_define"),
                        Pair.parse("cosine_vs_query_nll=pool_routed:pool_by_nll")),
                List.of(Pair.parse("gen_routed:gen_best"), Pair.parse("gen_routed:static_define"),
                        Pair.parse("pool_rank:pool_by_nll")), 0.05, 0, DERIVED);
        return StatsJson.experiments(OfflineAggregation.run(
                ScoreLines.read(OfflineReferenceTest.resource("derived_scores.jsonl")), options, 0));
    }

    @Test
    void derivedConditionsMatchTheReference() throws Exception {
        JsonNode expected;
        try (InputStream in = getClass().getResourceAsStream("/reference/expected_derived.json")) {
            expected = new ObjectMapper().readTree(in);
        }
        ObjectNode actual = aggregate();
        assertEquals(OfflineReferenceTest.setOf(expected.fieldNames()), OfflineReferenceTest.setOf(actual.fieldNames()));
        int compared = 0;
        for (Iterator<String> e = expected.fieldNames(); e.hasNext(); ) {
            String experiment = e.next();
            JsonNode want = expected.get(experiment);
            JsonNode got = actual.get(experiment);
            for (String block : List.of("conditions", "contrasts", "correlations", "routing")) {
                assertEquals(OfflineReferenceTest.setOf(want.get(block).fieldNames()),
                        OfflineReferenceTest.setOf(got.get(block).fieldNames()), experiment + " " + block);
                for (Iterator<String> n = want.get(block).fieldNames(); n.hasNext(); ) {
                    String name = n.next();
                    JsonNode numbers = ((ObjectNode) want.get(block).get(name).deepCopy()).without(
                            List.of("reference", "routed", "best_of"));
                    compared += OfflineReferenceTest.compare(numbers, got.get(block).get(name),
                            experiment + "." + block + "." + name);
                }
            }
            // counts are exact: which samples were derived, are waiting, could not be routed, and what was picked
            // (re-read so that longs and ints compare as numbers)
            assertEquals(want.get("derived"), new ObjectMapper().readTree(got.get("derived").toString()),
                    experiment + ".derived");
            for (Iterator<String> c = want.get("derived_kinds").fieldNames(); c.hasNext(); ) {
                String condition = c.next();
                assertEquals(want.get("derived_kinds").get(condition), got.get("conditions").get(condition).get("derived"),
                        experiment + " " + condition + " marked derived");
            }
        }
        assertTrue(compared > 600, "compared " + compared + " numbers");
    }
}
