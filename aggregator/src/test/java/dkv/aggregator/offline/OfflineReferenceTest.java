package dkv.aggregator.offline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.aggregator.json.StatsJson;
import dkv.aggregator.state.ExperimentPlan.Pair;
import dkv.avro.StatsSnapshot;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The whole offline aggregation (de-duplication, pairing, arrival-order monitors, family-wise adjustment,
 * quintiles, oracle share, correlations) against ops/reference/stats_reference.py's independent implementation.
 */
class OfflineReferenceTest {
    static final Set<String> P_VALUES = Set.of("t_p", "wilcoxon_p", "bonferroni_p", "holm_p", "anytime_p",
            "win_anytime_p");

    static Path resource(String name) throws URISyntaxException {
        return Path.of(OfflineReferenceTest.class.getResource("/reference/" + name).toURI());
    }

    static ObjectNode aggregateFixture() throws Exception {
        var options = new OfflineAggregation.Options("bare", "oracle",
                List.of(Pair.parse("generated_vs_shuffled=generated:shuffled")),
                List.of(Pair.parse("generated:shuffled"), Pair.parse("oracle:random")), 0.05, 0);
        Map<String, StatsSnapshot> snapshots = OfflineAggregation.run(
                ScoreLines.read(resource("scores_offline.jsonl")), options, 0);
        return StatsJson.experiments(snapshots);
    }

    @Test
    void offlineAggregationMatchesReference() throws Exception {
        JsonNode expected;
        try (InputStream in = getClass().getResourceAsStream("/reference/expected_offline.json")) {
            expected = new ObjectMapper().readTree(in);
        }
        ObjectNode actual = aggregateFixture();
        assertEquals(setOf(expected.fieldNames()), setOf(actual.fieldNames()));
        int compared = 0;
        for (Iterator<String> e = expected.fieldNames(); e.hasNext(); ) {
            String experiment = e.next();
            for (String block : List.of("conditions", "contrasts", "correlations")) {
                JsonNode want = expected.get(experiment).get(block);
                JsonNode got = actual.get(experiment).get(block);
                assertEquals(setOf(want.fieldNames()), setOf(got.fieldNames()), experiment + " " + block);
                for (Iterator<String> n = want.fieldNames(); n.hasNext(); ) {
                    String name = n.next();
                    compared += compare(want.get(name), got.get(name), experiment + "." + block + "." + name);
                }
            }
        }
        assertTrue(compared > 250, "compared " + compared + " numbers");
    }

    /** Compares every field the reference wrote; returns how many numbers were compared. */
    static int compare(JsonNode want, JsonNode got, String where) {
        int count = 0;
        for (Iterator<Map.Entry<String, JsonNode>> f = want.fields(); f.hasNext(); ) {
            var field = f.next();
            String path = where + "." + field.getKey();
            JsonNode actual = got.get(field.getKey());
            assertTrue(actual != null, path + " missing");
            double rel = P_VALUES.contains(field.getKey()) ? 1e-6 : 1e-9;
            if (field.getValue().isArray()) {
                assertEquals(field.getValue().size(), actual.size(), path + " length");
                for (int i = 0; i < field.getValue().size(); i++) {
                    near(field.getValue().get(i), actual.get(i), rel, path + "[" + i + "]");
                    count++;
                }
            } else {
                near(field.getValue(), actual, rel, path);
                count++;
            }
        }
        return count;
    }

    static void near(JsonNode want, JsonNode got, double rel, String path) {
        if (want.isNull()) {
            assertTrue(got.isNull(), path + ": expected null, got " + got);
            return;
        }
        assertTrue(got.isNumber(), path + ": expected " + want + ", got " + got);
        double e = want.asDouble();
        assertEquals(e, got.asDouble(), rel * Math.max(Math.abs(e), 1e-12), path);
    }

    static Set<String> setOf(Iterator<String> names) {
        Set<String> set = new java.util.TreeSet<>();
        names.forEachRemaining(set::add);
        return set;
    }
}
