package dkv.producers.plan;

import static dkv.producers.plan.PlanTest.error;
import static dkv.producers.plan.PlanTest.parse;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.ConditionSpec;
import dkv.avro.ScoreTarget;
import dkv.producers.corpus.Corpus;
import dkv.producers.surrogate.GeneratorResources;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The plan keys of ranking and long-document experiments: ranking, target, dataset_filters, document_tokens. */
class RankingPlanTest {
    static final String RANKING = """
            {"ranking": {"max_candidates": 20, "over_cap": "refuse"}, "target": "QUERY",
             "dataset_filters": {"split": "test", "small_version": 1},
             "conditions": [
               {"name": "bare"},
               {"name": "oracle", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "oracle"},
               {"name": "answer_ll", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "oracle", "target": "ANSWER"}
             ]}""";

    @Test
    void rankingTargetAndFiltersAreRead() {
        Plan plan = parse(RANKING);
        assertEquals(Optional.of(new RankingSpec(20, RankingSpec.OverCap.REFUSE)), plan.ranking());
        assertEquals(Map.of("split", "test", "small_version", "1"), plan.datasetFilters());
        List<ConditionSpec> specs = plan.expander(GeneratorResources.none(), Corpus.empty(42)).conditionsFor(PlanTest.sample());
        assertEquals(List.of(ScoreTarget.QUERY, ScoreTarget.QUERY, ScoreTarget.ANSWER),
                specs.stream().map(ConditionSpec::getTarget).toList(), "plan default, overridden per condition");
        assertEquals(Optional.of(RankingSpec.defaults()), parse("{\"ranking\": true, \"conditions\": [{\"name\": \"bare\"}]}")
                .ranking());
        assertEquals(Optional.empty(), parse("{\"ranking\": false, \"conditions\": [{\"name\": \"bare\"}]}").ranking());
    }

    @Test
    void newKeysEnterTheHashOnlyWhenSet() {
        Plan plain = parse("{\"conditions\": [{\"name\": \"bare\"}]}");
        for (String key : List.of("target", "ranking", "dataset_filters", "document_tokens")) {
            assertFalse(plain.canonicalJson().contains(key), "a plan without " + key + " keeps its earlier hash");
        }
        assertEquals(plain.hash(), parse("{\"target\": \"ANSWER\", \"conditions\": [{\"name\": \"bare\"}]}").hash());
        assertNotEquals(plain.hash(), parse("{\"target\": \"QUERY\", \"conditions\": [{\"name\": \"bare\"}]}").hash());
        assertNotEquals(parse(RANKING).hash(), parse(RANKING.replace("\"max_candidates\": 20", "\"max_candidates\": 21")).hash());
        assertNotEquals(parse(RANKING).hash(), parse(RANKING.replace("\"test\"", "\"train\"")).hash());
    }

    @Test
    void rankingPlanErrorsNameThePath() {
        assertEquals("p.json: $.ranking.over_cap: expected split or refuse, found 'drop'",
                error(RANKING.replace("\"refuse\"", "\"drop\"")).getMessage());
        assertEquals("p.json: $.ranking.max_candidates: expected an integer from 1 to 100000, found 0",
                error(RANKING.replace("\"max_candidates\": 20", "\"max_candidates\": 0")).getMessage());
        assertEquals("p.json: $.ranking.top_k: unknown key", error(RANKING.replace("\"max_candidates\"", "\"top_k\"")).getMessage());
        String keywords = error("{\"ranking\": true, \"conditions\": [{\"name\": \"bare\"}, {\"name\": \"kw\","
                + " \"placement\": \"SUFFIX\", \"surrogate_kind\": \"keywords\"}]}").getMessage();
        assertTrue(keywords.startsWith("p.json: $.conditions[1].surrogate_kind: 'keywords' derives the surrogate from one"
                + " passage"), keywords);
        assertTrue(error("{\"ranking\": true, \"conditions\": [{\"name\": \"bare\", \"document_tokens\": 512}]}").getMessage()
                .startsWith("p.json: $.conditions[0].document_tokens: a ranking plan scores the candidates as they are"));
        assertEquals("p.json: $.conditions[0].target: unknown value 'DOCUMENT' (expected one of [ANSWER, QUERY])",
                error("{\"conditions\": [{\"name\": \"bare\", \"target\": \"DOCUMENT\"}]}").getMessage());
        assertEquals("p.json: $.dataset_filters.split: expected a string or number, found [\"test\"]",
                error("{\"dataset_filters\": {\"split\": [\"test\"]}, \"conditions\": [{\"name\": \"bare\"}]}").getMessage());
    }

    @Test
    void documentTokensNeedTheModelsTokenizer() {
        String plan = "{\"conditions\": [{\"name\": \"bare\", \"document_tokens\": 256}]}";
        assertEquals(Optional.of(256), parse(plan).conditions().getFirst().documentTokens());
        PlanException e = org.junit.jupiter.api.Assertions.assertThrows(PlanException.class,
                () -> parse(plan).expander(GeneratorResources.none(), Corpus.empty(42)));
        assertTrue(e.getMessage().contains("$.conditions[0].document_tokens: needs the model's tokenizer to count tokens;"
                + " pass the model directory (--model-dir)"), e.getMessage());
        assertTrue(error(plan.replace("256", "0")).getMessage().endsWith("expected an integer from 1 to 131072, found 0"));
    }
}
