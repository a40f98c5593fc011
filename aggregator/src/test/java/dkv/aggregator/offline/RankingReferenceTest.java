package dkv.aggregator.offline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dkv.aggregator.json.StatsJson;
import dkv.aggregator.stats.SignFlipTest;
import dkv.avro.StatsSnapshot;
import java.io.InputStream;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code dkv aggregate --ranking} on a stream of ranking scores (duplicates, a conflicting one, incomplete queries,
 * tied NLLs, one-class queries) against ops/reference/ranking_reference.py: AUC from scikit-learn, t and Wilcoxon
 * p-values from SciPy, randomization p-values by exact enumeration (within Monte Carlo error where dkv samples).
 */
class RankingReferenceTest {
    static final double REL = 1e-9;
    static final double P_REL = 1e-6;

    @Test
    void rankingStatisticsMatchTheReference() throws Exception {
        JsonNode expected;
        try (InputStream in = getClass().getResourceAsStream("/reference/expected_ranking.json")) {
            expected = new ObjectMapper().readTree(in);
        }
        var options = new OfflineAggregation.Options("bare", null, List.of(), List.of(), 0.05, 0);
        Map<String, StatsSnapshot> snapshots = OfflineAggregation.run(
                ScoreLines.read(OfflineReferenceTest.resource("ranking_scores.jsonl"), true), options, 0);
        JsonNode actual = StatsJson.experiments(snapshots);

        assertEquals(OfflineReferenceTest.setOf(expected.fieldNames()), OfflineReferenceTest.setOf(actual.fieldNames()));
        int compared = 0;
        int exactRandomization = 0;
        for (Iterator<String> e = expected.fieldNames(); e.hasNext(); ) {
            String experiment = e.next();
            JsonNode want = expected.get(experiment);
            JsonNode got = actual.get(experiment).get("ranking");
            for (String count : List.of("queries", "complete_queries", "candidates", "one_class_queries",
                    "no_relevant_queries")) {
                assertEquals(want.get(count).asLong(), got.get(count).asLong(), experiment + " " + count);
            }
            assertEquals(OfflineReferenceTest.setOf(want.get("conditions").fieldNames()),
                    OfflineReferenceTest.setOf(got.get("conditions").fieldNames()), experiment + " conditions");
            for (var c : iterable(want.get("conditions").fields())) {
                JsonNode g = got.get("conditions").get(c.getKey());
                String where = experiment + "." + c.getKey();
                assertEquals(c.getValue().get("queries").asLong(), g.get("queries").asLong(), where + ".queries");
                assertEquals(c.getValue().get("auc_queries").asLong(), g.get("auc_queries").asLong(), where + ".auc_queries");
                for (String metric : List.of("auc", "mrr_at_10", "ndcg_at_10")) {
                    near(c.getValue().get(metric), g.get(metric), REL, 0, where + "." + metric);
                    compared++;
                }
            }
            for (var c : iterable(want.get("comparisons").fields())) {
                for (var m : iterable(c.getValue().fields())) {
                    String where = experiment + "." + c.getKey() + "." + m.getKey();
                    JsonNode w = m.getValue();
                    JsonNode g = got.get("comparisons").get(c.getKey()).get(m.getKey());
                    assertEquals("bare", g.get("reference").asText(), where);
                    assertEquals(w.get("n").asLong(), g.get("n").asLong(), where + ".n");
                    near(w.get("mean_delta"), g.get("mean_delta"), REL, 1e-12, where + ".mean_delta");
                    near(w.get("t_p"), g.get("t_p"), P_REL, 0, where + ".t_p");
                    near(w.get("wilcoxon_p"), g.get("wilcoxon_p"), P_REL, 0, where + ".wilcoxon_p");
                    compared += 3;
                    if (w.get("randomization_exact").asBoolean()) {
                        near(w.get("randomization_p"), g.get("randomization_p"), REL, 0, where + ".randomization_p");
                        exactRandomization++;
                    } else {
                        // dkv draws its own seeded signs: within 4.5 standard errors of both estimates
                        double p = w.get("randomization_p").asDouble();
                        double se = Math.sqrt(p * (1 - p) / SignFlipTest.DEFAULT_RESAMPLES)
                                + w.get("randomization_reference_se").asDouble();
                        near(w.get("randomization_p"), g.get("randomization_p"), 0,
                                4.5 * se + 1.0 / (SignFlipTest.DEFAULT_RESAMPLES + 1), where + ".randomization_p");
                    }
                    compared++;
                }
            }
        }
        assertTrue(compared > 100, "compared " + compared + " numbers");
        assertTrue(exactRandomization >= 6, "exact randomization cases: " + exactRandomization);
    }

    static void near(JsonNode want, JsonNode got, double rel, double abs, String path) {
        if (want == null || want.isNull()) {
            assertTrue(got == null || got.isNull(), path + ": expected null, got " + got);
            return;
        }
        assertTrue(got != null && got.isNumber(), path + ": expected " + want + ", got " + got);
        double e = want.asDouble();
        assertEquals(e, got.asDouble(), abs + rel * Math.max(Math.abs(e), 1e-12), path);
    }

    private static <T> Iterable<T> iterable(Iterator<T> iterator) {
        return () -> iterator;
    }
}
