package dkv.aggregator.stats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import uk.ac.gla.terrier.jtreceval.trec_eval;

/**
 * MRR@10 and nDCG@10 against trec_eval 9.0.4 (jtreceval's bundled binary), query by query, on random queries with
 * the three datasets' relevance scales. trec_eval truncates relevance to integers, so ESCI's gains 1/0.1/0.01/0
 * go in as 100/10/1/0 (nDCG is unchanged by scaling). The run lists each query's candidates with score −NLL and
 * {@code -M 10} keeps the top 10, so {@code recip_rank} is MRR@10; the ideal DCG comes from all judged candidates.
 */
class RankingMetricsTrecEvalTest {
    private record Dataset(String name, double[] grades, double trecScale) {}

    private static final Dataset[] DATASETS = {
            new Dataset("msmarco", new double[] {1, 0, 0, 0, 0, 0, 0, 0, 0}, 1),
            new Dataset("esci", new double[] {1, 0.1, 0.01, 0}, 100),
            new Dataset("wands", new double[] {2, 1, 0}, 1)};

    @Test
    void reciprocalRankAndNdcgAtTenMatchTrecEval(@TempDir Path dir) throws IOException {
        SplittableRandom random = new SplittableRandom(17);
        StringBuilder qrels = new StringBuilder();
        StringBuilder run = new StringBuilder();
        Map<String, double[]> expected = new HashMap<>();
        int withRelevant = 0;
        for (Dataset dataset : DATASETS) {
            for (int q = 0; q < 40; q++) {
                String query = dataset.name() + q;
                int n = 1 + random.nextInt(q % 5 == 0 ? 4 : 30); // short lists too: fewer than 10 candidates
                double[] relevance = new double[n];
                double[] nll = new double[n];
                String[] ids = new String[n];
                for (int i = 0; i < n; i++) {
                    ids[i] = String.format(Locale.ROOT, "d%03d", i);
                    relevance[i] = dataset.grades()[random.nextInt(dataset.grades().length)];
                    // relevant candidates tend to get lower NLLs; continuous values: no ties for trec_eval to break
                    nll[i] = 2 + random.nextDouble() - 0.6 * relevance[i] / dataset.grades()[0];
                    qrels.append(String.format(Locale.ROOT, "%s 0 %s %d%n", query, ids[i],
                            Math.round(relevance[i] * dataset.trecScale())));
                    run.append(String.format(Locale.ROOT, "%s Q0 %s 0 %.17g dkv%n", query, ids[i], -nll[i]));
                }
                int[] order = RankingMetrics.rank(nll, ids);
                double rr = RankingMetrics.reciprocalRank(order, relevance, RankingMetrics.CUTOFF);
                double ndcg = RankingMetrics.ndcg(order, relevance, RankingMetrics.CUTOFF);
                if (!Double.isNaN(rr)) {
                    withRelevant++;
                }
                // trec_eval scores a query without a relevant candidate 0; dkv leaves it out of the means (NaN)
                expected.put(query, Double.isNaN(rr) ? new double[] {0, 0} : new double[] {rr, ndcg});
            }
        }
        Path qrelsFile = Files.writeString(dir.resolve("qrels"), qrels);
        Path runFile = Files.writeString(dir.resolve("run"), run);

        Map<String, double[]> trec = trecEval(qrelsFile, runFile);

        assertTrue(withRelevant > 90, "queries with a relevant candidate: " + withRelevant);
        assertTrue(withRelevant < expected.size(), "some queries have no relevant candidate");
        assertEquals(expected.keySet(), trec.keySet());
        for (var e : expected.entrySet()) {
            // trec_eval prints 4 decimals
            assertEquals(e.getValue()[0], trec.get(e.getKey())[0], 5e-5, e.getKey() + " recip_rank");
            assertEquals(e.getValue()[1], trec.get(e.getKey())[1], 5e-5, e.getKey() + " ndcg_cut_10");
        }
    }

    /** Per query: {recip_rank, ndcg_cut_10}. */
    private static Map<String, double[]> trecEval(Path qrels, Path run) {
        String[][] output = new trec_eval().runAndGetOutput(new String[] {"-q", "-M", "10", "-m", "recip_rank",
                "-m", "ndcg_cut.10", qrels.toString(), run.toString()});
        Map<String, double[]> perQuery = new HashMap<>();
        for (String[] line : output) {
            if (line.length < 3 || line[1].equals("all")) {
                continue;
            }
            double[] values = perQuery.computeIfAbsent(line[1], k -> new double[] {Double.NaN, Double.NaN});
            switch (line[0]) {
                case "recip_rank" -> values[0] = Double.parseDouble(line[2]);
                case "ndcg_cut_10" -> values[1] = Double.parseDouble(line[2]);
                default -> throw new AssertionError("unexpected trec_eval line " + String.join(" ", line));
            }
        }
        return perQuery;
    }
}
