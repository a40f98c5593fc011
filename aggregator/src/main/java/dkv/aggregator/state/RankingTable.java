package dkv.aggregator.state;

import dkv.aggregator.stats.DeltaSummary;
import dkv.aggregator.stats.Moments;
import dkv.aggregator.stats.RankingMetrics;
import dkv.aggregator.stats.SignFlipTest;
import dkv.avro.RankingComparison;
import dkv.avro.RankingCondition;
import dkv.avro.RankingStats;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The candidates of every query of a ranking experiment with their relevance and NLL per condition, and the
 * ranking statistics computed from them (DESIGN.md "Ranking experiments"). De-duplication happens before a score
 * gets here. A (query, condition) is ranked only once every candidate seen for the query — under any condition —
 * has its NLL there; queries are visited in id order, so the statistics do not depend on arrival order.
 */
final class RankingTable {
    static final List<String> METRICS = List.of("auc", "mrr_at_10", "ndcg_at_10");
    private static final int AUC = 0;
    private static final int MRR = 1;
    private static final int NDCG = 2;
    private static final double DELTA_SCALE = 1e12;

    /** One query's candidates: ids, relevance (the first record's wins) and NLL by condition index. */
    private static final class Query {
        final List<String> ids = new ArrayList<>();
        final Map<String, Integer> index = new HashMap<>();
        final List<Double> relevance = new ArrayList<>();
        final List<double[]> nll = new ArrayList<>();

        void add(String candidate, double candidateRelevance, int condition, double value) {
            Integer i = index.get(candidate);
            if (i == null) {
                i = ids.size();
                index.put(candidate, i);
                ids.add(candidate);
                relevance.add(candidateRelevance);
                nll.add(new double[0]);
            }
            double[] row = nll.get(i);
            if (condition >= row.length) {
                int old = row.length;
                row = Arrays.copyOf(row, condition + 1);
                Arrays.fill(row, old, row.length, Double.NaN);
                nll.set(i, row);
            }
            row[condition] = value;
        }

        /** NLLs of every candidate under the condition, or null while one is missing. */
        double[] nllUnder(int condition) {
            double[] out = new double[ids.size()];
            for (int i = 0; i < out.length; i++) {
                double[] row = nll.get(i);
                if (condition >= row.length || Double.isNaN(row[condition])) {
                    return null;
                }
                out[i] = row[condition];
            }
            return out;
        }
    }

    /** Last p-value of each comparison and the Δ it was computed from: live snapshots often repeat them. */
    private record CachedP(double[] delta, double p) {}

    private final Map<String, Query> queries = new HashMap<>();
    private final SignFlipTest randomization;
    private final Map<String, CachedP> randomizationCache = new HashMap<>();
    private long candidates;

    RankingTable(SignFlipTest randomization) {
        this.randomization = randomization;
    }

    void add(String query, String candidate, double relevance, int condition, double nll) {
        Query q = queries.computeIfAbsent(query, k -> new Query());
        int before = q.ids.size();
        q.add(candidate, relevance, condition, nll);
        candidates += q.ids.size() - before;
    }

    boolean isEmpty() {
        return queries.isEmpty();
    }

    /** Queries with every candidate scored under at least {@code conditions} conditions, all of them complete. */
    long completeQueries(int conditions) {
        long complete = 0;
        for (Query q : queries.values()) {
            int ranked = 0;
            for (int c = 0; c < conditions; c++) {
                if (q.nllUnder(c) != null) {
                    ranked++;
                }
            }
            if (ranked == conditions) {
                complete++;
            }
        }
        return complete;
    }

    long queries() {
        return queries.size();
    }

    /**
     * @param conditions condition names by index (the experiment's)
     * @param expectedConditions how many conditions a complete query has (the plan's count, else those seen)
     */
    RankingStats snapshot(List<String> conditions, String baseline, int expectedConditions) {
        List<String> ids = new ArrayList<>(queries.keySet());
        ids.sort(null);
        int conditionCount = conditions.size();
        // metric[m][c][q]: NaN where the query is not ranked under c or the metric is undefined for it
        double[][][] metric = new double[METRICS.size()][conditionCount][ids.size()];
        for (double[][] m : metric) {
            for (double[] row : m) {
                Arrays.fill(row, Double.NaN);
            }
        }
        long oneClass = 0;
        long noRelevant = 0;
        for (int q = 0; q < ids.size(); q++) {
            Query query = queries.get(ids.get(q));
            double[] relevance = query.relevance.stream().mapToDouble(Double::doubleValue).toArray();
            long relevant = Arrays.stream(relevance).filter(r -> r > 0).count();
            if (relevant == 0) {
                noRelevant++;
            }
            if (relevant == 0 || relevant == relevance.length) {
                oneClass++;
            }
            String[] candidateIds = query.ids.toArray(String[]::new);
            for (int c = 0; c < conditionCount; c++) {
                double[] nll = query.nllUnder(c);
                if (nll == null) {
                    continue;
                }
                int[] order = RankingMetrics.rank(nll, candidateIds);
                metric[AUC][c][q] = RankingMetrics.auc(nll, relevance);
                metric[MRR][c][q] = RankingMetrics.reciprocalRank(order, relevance, RankingMetrics.CUTOFF);
                metric[NDCG][c][q] = RankingMetrics.ndcg(order, relevance, RankingMetrics.CUTOFF);
            }
        }
        List<RankingCondition> perCondition = new ArrayList<>();
        for (int c = 0; c < conditionCount; c++) {
            perCondition.add(new RankingCondition(conditions.get(c), (long) defined(metric[MRR][c]).length,
                    mean(metric[AUC][c]), (long) defined(metric[AUC][c]).length, mean(metric[MRR][c]), mean(metric[NDCG][c])));
        }
        List<RankingComparison> comparisons = new ArrayList<>();
        int b = conditions.indexOf(baseline);
        for (int c = 0; b >= 0 && c < conditionCount; c++) {
            if (c == b) {
                continue;
            }
            for (int m = 0; m < METRICS.size(); m++) {
                comparisons.add(compare(conditions.get(c), baseline, METRICS.get(m), metric[m][c], metric[m][b]));
            }
        }
        return new RankingStats((long) ids.size(), completeQueries(expectedConditions), candidates, oneClass,
                noRelevant, randomization.resamples(), perCondition, comparisons);
    }

    private RankingComparison compare(String condition, String reference, String metricName, double[] of, double[] ref) {
        double[] delta = new double[of.length];
        int n = 0;
        for (int q = 0; q < of.length; q++) {
            if (!Double.isNaN(of[q]) && !Double.isNaN(ref[q])) {
                delta[n++] = snap(of[q] - ref[q]);
            }
        }
        delta = Arrays.copyOf(delta, n);
        DeltaSummary s = DeltaSummary.of(delta);
        return new RankingComparison(condition, reference, metricName, s.n(), s.mean(), s.tP(), s.wilcoxonP(),
                randomizationP(condition + "|" + reference + "|" + metricName, delta));
    }

    /**
     * Δ rounded to 12 decimals. Metric values are ratios of small integers that different rankings can reach by
     * different float paths (1/3 − 1/9 vs 4/9 − 2/9), and Wilcoxon drops zeros and looks for tied |Δ|: without the
     * rounding, an ulp would decide whether a Δ is zero or two are tied.
     */
    static double snap(double delta) {
        return Math.rint(delta * DELTA_SCALE) / DELTA_SCALE;
    }

    private double randomizationP(String name, double[] delta) {
        CachedP cached = randomizationCache.get(name);
        if (cached != null && Arrays.equals(cached.delta(), delta)) {
            return cached.p();
        }
        double p = randomization.pValue(delta, name);
        randomizationCache.put(name, new CachedP(delta, p));
        return p;
    }

    private static double[] defined(double[] values) {
        return Arrays.stream(values).filter(v -> !Double.isNaN(v)).toArray();
    }

    private static double mean(double[] values) {
        double[] d = defined(values);
        return d.length == 0 ? Double.NaN : Moments.mean(d);
    }
}
