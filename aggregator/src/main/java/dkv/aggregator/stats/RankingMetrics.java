package dkv.aggregator.stats;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * Ranking quality of one query's candidates under one condition (DESIGN.md "Ranking experiments"). A lower NLL
 * means the model finds the target more likely next to that candidate, so candidates rank by NLL ascending, ties
 * by candidate id. A candidate is relevant when its relevance is above 0; gains are the relevance values.
 */
public final class RankingMetrics {
    /** Rank cut-off of MRR and nDCG. */
    public static final int CUTOFF = 10;

    private RankingMetrics() {}

    /** Candidate indices in ranked order: NLL ascending, ties by id (so the order never depends on arrival). */
    public static int[] rank(double[] nll, String[] ids) {
        return IntStream.range(0, nll.length).boxed()
                .sorted(Comparator.<Integer>comparingDouble(i -> nll[i] + 0.0).thenComparing(i -> ids[i]))
                .mapToInt(Integer::intValue).toArray();
    }

    /**
     * Probability that a relevant candidate has a lower NLL than a non-relevant one, ties counting ½ — the ROC AUC
     * of score −NLL, computed as Mann–Whitney U from average ranks. NaN when the query has one class only.
     */
    public static double auc(double[] nll, double[] relevance) {
        int n = nll.length;
        long positives = Arrays.stream(relevance).filter(r -> r > 0).count();
        long negatives = n - positives;
        if (positives == 0 || negatives == 0) {
            return Double.NaN;
        }
        // ranks of the score −NLL ascending = ranks of NLL descending; tied NLLs share their average rank
        Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble(i -> -nll[i] + 0.0));
        double positiveRankSum = 0;
        for (int start = 0; start < n; ) {
            int end = start;
            while (end + 1 < n && -nll[order[end + 1]] + 0.0 == -nll[order[start]] + 0.0) {
                end++;
            }
            double averageRank = (start + end) / 2.0 + 1;
            for (int k = start; k <= end; k++) {
                if (relevance[order[k]] > 0) {
                    positiveRankSum += averageRank;
                }
            }
            start = end + 1;
        }
        double u = positiveRankSum - positives * (positives + 1) / 2.0;
        return u / ((double) positives * negatives);
    }

    /** 1 / rank of the first relevant candidate within the cut-off, 0 if none there; NaN when none is relevant. */
    public static double reciprocalRank(int[] order, double[] relevance, int cutoff) {
        if (Arrays.stream(relevance).noneMatch(r -> r > 0)) {
            return Double.NaN;
        }
        for (int rank = 0; rank < Math.min(cutoff, order.length); rank++) {
            if (relevance[order[rank]] > 0) {
                return 1.0 / (rank + 1);
            }
        }
        return 0;
    }

    /**
     * DCG of the ranking within the cut-off over the ideal DCG (all candidates by relevance, best first): linear
     * gain, discount log2(rank + 1). NaN when no candidate is relevant (the ideal is 0).
     */
    public static double ndcg(int[] order, double[] relevance, int cutoff) {
        double[] ideal = Arrays.stream(relevance).map(r -> -r).sorted().map(r -> -r).toArray();
        double idealDcg = dcg(ideal, cutoff);
        if (!(idealDcg > 0)) {
            return Double.NaN;
        }
        double[] ranked = Arrays.stream(order).mapToDouble(i -> relevance[i]).toArray();
        return dcg(ranked, cutoff) / idealDcg;
    }

    private static double dcg(double[] gains, int cutoff) {
        double sum = 0;
        for (int rank = 0; rank < Math.min(cutoff, gains.length); rank++) {
            sum += gains[rank] / (Math.log(rank + 2) / Math.log(2));
        }
        return sum;
    }
}
