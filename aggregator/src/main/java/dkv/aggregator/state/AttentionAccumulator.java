package dkv.aggregator.state;

import dkv.avro.AttentionShares;
import dkv.avro.AttentionSummary;
import dkv.avro.LayerShares;
import dkv.avro.SegmentShares;
import dkv.schemas.SegmentFields;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Running sums of attention shares per condition, source (answer or query positions), layer and segment, from
 * which the mean share per segment per layer is read, plus the change of the answer→query share in conditions
 * that carry a suffix relative to the baseline.
 */
final class AttentionAccumulator {
    static final List<String> SEGMENTS = SegmentFields.shareFields();
    static final String QUERY_CHANGE = "query_change_vs_baseline";

    /** Sums for one (condition, source): [layer][segment] plus a per-layer count. */
    private static final class Sums {
        double[][] share = new double[0][];
        long[] count = new long[0];

        void add(int layer, SegmentShares s) {
            if (layer >= count.length) {
                int size = layer + 1;
                double[][] grown = Arrays.copyOf(share, size);
                for (int i = share.length; i < size; i++) {
                    grown[i] = new double[SEGMENTS.size()];
                }
                share = grown;
                count = Arrays.copyOf(count, size);
            }
            double[] row = share[layer];
            for (int k = 0; k < SEGMENTS.size(); k++) row[k] += SegmentFields.share(s, SEGMENTS.get(k));
            count[layer]++;
        }

        List<Double> perLayer(int segment) {
            List<Double> means = new ArrayList<>(count.length);
            for (int layer = 0; layer < count.length; layer++) {
                means.add(count[layer] == 0 ? Double.NaN : share[layer][segment] / count[layer]);
            }
            return means;
        }
    }

    private final Map<String, Sums> fromAnswer = new LinkedHashMap<>();
    private final Map<String, Sums> fromQuery = new LinkedHashMap<>();
    private final Map<String, Boolean> hasSuffix = new LinkedHashMap<>();

    void add(String condition, int suffixTokens, AttentionShares attention) {
        if (suffixTokens > 0) {
            hasSuffix.put(condition, true);
        }
        for (LayerShares layer : attention.getLayers()) {
            fromAnswer.computeIfAbsent(condition, c -> new Sums()).add(layer.getLayer(), layer.getFromAnswer());
            if (layer.getFromQuery() != null) {
                fromQuery.computeIfAbsent(condition, c -> new Sums()).add(layer.getLayer(), layer.getFromQuery());
            }
        }
    }

    List<AttentionSummary> summaries(String baseline) {
        List<AttentionSummary> out = new ArrayList<>();
        summarize("answer", fromAnswer, out);
        summarize("query", fromQuery, out);
        Sums base = fromAnswer.get(baseline);
        int query = SEGMENTS.indexOf("query");
        for (String condition : hasSuffix.keySet()) {
            Sums sums = fromAnswer.get(condition);
            if (base == null || sums == null || condition.equals(baseline)) {
                continue;
            }
            List<Double> with = sums.perLayer(query);
            List<Double> without = base.perLayer(query);
            List<Double> change = new ArrayList<>();
            for (int layer = 0; layer < Math.min(with.size(), without.size()); layer++) {
                change.add(with.get(layer) - without.get(layer));
            }
            out.add(new AttentionSummary(condition, "answer", QUERY_CHANGE, change));
        }
        return out;
    }

    private static void summarize(String source, Map<String, Sums> sums, List<AttentionSummary> out) {
        sums.forEach((condition, s) -> {
            for (int segment = 0; segment < SEGMENTS.size(); segment++) {
                out.add(new AttentionSummary(condition, source, SEGMENTS.get(segment), s.perLayer(segment)));
            }
        });
    }
}
