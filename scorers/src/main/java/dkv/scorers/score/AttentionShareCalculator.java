package dkv.scorers.score;

import dkv.avro.AttentionShares;
import dkv.avro.LayerShares;
import dkv.avro.SegmentShares;
import dkv.schemas.SegmentFields;
import dkv.scorers.recipe.Segment;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.Tensors;
import java.util.ArrayList;
import java.util.List;

/**
 * Share of attention mass from the QUERY and ANSWER positions to each segment: per layer, the head-averaged
 * probabilities of a source row summed over a segment's columns, averaged over the source rows.
 */
public final class AttentionShareCalculator {

    private AttentionShareCalculator() {
    }

    /**
     * @param headMeanProbs   per layer [newTokens, columns] (float32)
     * @param columnSegments  the segment of each column (cache entry)
     * @param queryRows       [from, to) rows of the QUERY tokens within the new tokens (from == to: none)
     * @param answerRows      [from, to) rows of the ANSWER tokens within the new tokens
     */
    public static AttentionShares of(List<Tensor> headMeanProbs, Segment[] columnSegments, int[] queryRows, int[] answerRows) {
        List<LayerShares> layers = new ArrayList<>();
        for (int l = 0; l < headMeanProbs.size(); l++) {
            Tensor p = headMeanProbs.get(l);
            int cols = Math.toIntExact(p.size(1));
            if (cols != columnSegments.length) {
                throw new IllegalArgumentException("layer " + l + " has " + cols + " columns, labels " + columnSegments.length);
            }
            float[] probs = Tensors.toFloatArray(p);
            layers.add(LayerShares.newBuilder()
                    .setLayer(l)
                    .setFromQuery(queryRows[1] > queryRows[0] ? shares(probs, cols, columnSegments, queryRows) : null)
                    .setFromAnswer(shares(probs, cols, columnSegments, answerRows))
                    .build());
        }
        return AttentionShares.newBuilder().setLayers(layers).build();
    }

    static SegmentShares shares(float[] probs, int cols, Segment[] columnSegments, int[] rows) {
        double[] sum = new double[Segment.values().length];
        for (int r = rows[0]; r < rows[1]; r++) {
            for (int c = 0; c < cols; c++) sum[columnSegments[c].ordinal()] += probs[r * cols + c];
        }
        int n = rows[1] - rows[0];
        return SegmentFields.shares(field -> {
            Segment s = Segment.ofField(field);
            return s == null ? 0 : sum[s.ordinal()] / n;
        });
    }
}
