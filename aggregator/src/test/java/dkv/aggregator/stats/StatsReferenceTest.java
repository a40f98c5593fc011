package dkv.aggregator.stats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;

/** Every statistic against SciPy values from ops/reference/stats_reference.py (stats_cases.json). */
class StatsReferenceTest {
    static final double REL = 1e-9;
    static final double P_REL = 1e-6;

    static JsonNode fixture(String name) throws IOException {
        try (InputStream in = StatsReferenceTest.class.getResourceAsStream("/reference/" + name)) {
            return new ObjectMapper().readTree(in);
        }
    }

    static double[] doubles(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).mapToDouble(JsonNode::asDouble).toArray();
    }

    /** null in the fixture is NaN here; otherwise relative tolerance (absolute near zero). */
    static void near(JsonNode expected, double actual, double rel, String what) {
        if (expected == null || expected.isNull()) {
            assertTrue(Double.isNaN(actual), what + ": expected undefined, got " + actual);
            return;
        }
        double e = expected.asDouble();
        double tolerance = rel * Math.max(Math.abs(e), 1e-12);
        assertEquals(e, actual, tolerance, what);
    }

    @Test
    void deltaSummariesMatchScipy() throws IOException {
        for (JsonNode c : fixture("stats_cases.json").get("cases")) {
            String name = c.get("name").asText();
            DeltaSummary s = DeltaSummary.of(doubles(c.get("delta")));
            assertEquals(c.get("n").asLong(), s.n(), name);
            near(c.get("mean_delta"), s.mean(), REL, name + " mean");
            near(c.get("sd_delta"), s.sd(), REL, name + " sd");
            near(c.get("ci95").get(0), s.ci95Lo(), REL, name + " ci lo");
            near(c.get("ci95").get(1), s.ci95Hi(), REL, name + " ci hi");
            near(c.get("cohen_dz"), s.cohenDz(), REL, name + " dz");
            near(c.get("win_rate"), s.winRate(), REL, name + " win");
            near(c.get("tie_rate"), s.tieRate(), REL, name + " tie");
            near(c.get("t_p"), s.tP(), P_REL, name + " t p");
            near(c.get("wilcoxon_p"), s.wilcoxonP(), P_REL, name + " wilcoxon p");
        }
    }

    @Test
    void correlationsMatchScipy() throws IOException {
        for (JsonNode c : fixture("stats_cases.json").get("correlations")) {
            Correlations r = Correlations.of(doubles(c.get("x")), doubles(c.get("y")));
            near(c.get("pearson"), r.pearson(), REL, c.get("name") + " pearson");
            near(c.get("spearman"), r.spearman(), REL, c.get("name") + " spearman");
        }
    }

    @Test
    void bonferroniAndHolmMatchReference() throws IOException {
        JsonNode m = fixture("stats_cases.json").get("multiple");
        double[] p = StreamSupport.stream(m.get("p").spliterator(), false)
                .mapToDouble(v -> v.isNull() ? Double.NaN : v.asDouble()).toArray();
        double[] bonferroni = MultipleComparisons.bonferroni(p);
        double[] holm = MultipleComparisons.holm(p);
        for (int i = 0; i < p.length; i++) {
            near(m.get("bonferroni").get(i), bonferroni[i], REL, "bonferroni " + i);
            near(m.get("holm").get(i), holm[i], REL, "holm " + i);
        }
    }

    @Test
    void quintilesMatchNumpyArraySplit() throws IOException {
        for (JsonNode q : fixture("stats_cases.json").get("quintiles")) {
            double[] means = Hardness.quintileMeans(doubles(q.get("reference")), doubles(q.get("delta")));
            for (int g = 0; g < 5; g++) {
                near(q.get("quintile_mean_delta").get(g), means[g], REL, q.get("name") + " quintile " + g);
            }
        }
    }

    @Test
    void confidenceSequenceMatchesPythonFormula() throws IOException {
        for (JsonNode c : fixture("stats_cases.json").get("confidence_sequence")) {
            ConfidenceSequence cs = new ConfidenceSequence(c.get("alpha").asDouble(), c.get("n_star").asDouble());
            long n = c.get("n").asLong();
            double mean = c.get("mean").asDouble();
            double half = cs.halfWidth(n, c.get("sd").asDouble());
            near(c.get("lo"), mean - half, REL, "cs lo n=" + n);
            near(c.get("hi"), mean + half, REL, "cs hi n=" + n);
            near(c.get("p"), cs.pValue(n, mean, c.get("sd").asDouble()), P_REL, "cs p n=" + n);
        }
    }

    @Test
    void anytimePValueIsBelowAlphaExactlyWhenTheSequenceExcludesZero() {
        ConfidenceSequence cs = new ConfidenceSequence(0.05, 500);
        for (double mean = -0.5; mean <= 0.5; mean += 0.01) {
            for (long n : new long[] {5, 50, 500, 5000}) {
                double half = cs.halfWidth(n, 1.3);
                assertEquals(Math.abs(mean) > half, cs.pValue(n, mean, 1.3) < 0.05, "mean " + mean + " n " + n);
            }
        }
    }
}
