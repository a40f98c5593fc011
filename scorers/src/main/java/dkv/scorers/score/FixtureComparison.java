package dkv.scorers.score;

import com.fasterxml.jackson.databind.JsonNode;
import dkv.avro.LayerShares;
import dkv.avro.ScoreRecord;
import dkv.avro.SegmentShares;
import dkv.avro.SegmentTokens;
import dkv.schemas.SegmentFields;
import java.util.ArrayList;
import java.util.List;

/** How far scored records are from a reference fixture's expectations. */
public final class FixtureComparison {

    private FixtureComparison() {
    }

    /**
     * Deviations of one record: absolute differences (0 where the fixture has nothing to compare) and
     * structural mismatches (token counts, presence of the document check and of attention shares).
     */
    public record Deviation(String sampleId, String condition, double nllMean, double nllSum, double tokenLogprob,
                            double documentDelta, double attentionShare, List<String> mismatches) {
        public String where() {
            return sampleId + "/" + condition;
        }
    }

    public static List<Deviation> compare(FixtureFile fixture, String sampleId, List<ScoreRecord> records) {
        List<Deviation> out = new ArrayList<>();
        for (ScoreRecord r : records) out.add(compare(fixture.expected(sampleId, r.getCondition()), r, sampleId));
        return out;
    }

    static Deviation compare(JsonNode e, ScoreRecord r, String sampleId) {
        if (EncoderDecoderFixtureComparison.applies(e)) return EncoderDecoderFixtureComparison.compare(e, r, sampleId);
        List<String> mismatches = new ArrayList<>();
        if (e.get("answer_tokens").asInt() != r.getAnswerTokens()) {
            mismatches.add("answer tokens " + r.getAnswerTokens() + " != " + e.get("answer_tokens").asInt());
        }
        double token = 0;
        if (r.getTokenLogprobs() != null && mismatches.isEmpty()) {
            for (int i = 0; i < r.getAnswerTokens(); i++) {
                token = Math.max(token, Math.abs(e.get("token_logprobs").get(i).asDouble() - r.getTokenLogprobs().get(i)));
            }
        }
        SegmentTokens s = r.getSegments();
        JsonNode seg = e.get("segments");
        for (String field : SegmentFields.tokenFields()) {
            int mine = SegmentFields.count(s, field);
            int expected = seg.has(field) ? seg.get(field).asInt() : 0;  // fixtures written before a field existed count 0
            if (expected != mine) mismatches.add(field + " tokens " + mine + " != " + expected);
        }
        double documentDelta = 0;
        JsonNode delta = e.get("document_kv_max_abs_delta");
        if (delta.isNull() != (r.getDocumentKvMaxAbsDelta() == null)) {
            mismatches.add("document check " + r.getDocumentKvMaxAbsDelta() + " vs expected " + delta);
        } else if (!delta.isNull()) {
            documentDelta = Math.abs(delta.asDouble() - r.getDocumentKvMaxAbsDelta());
        }
        double share = 0;
        JsonNode attention = e.hasNonNull("attention") ? e.get("attention") : com.fasterxml.jackson.databind.node.NullNode.getInstance();
        if (attention.isNull() != (r.getAttention() == null)) {
            mismatches.add("attention shares " + (r.getAttention() == null ? "missing" : "unexpected"));
        } else if (!attention.isNull()) {
            List<LayerShares> layers = r.getAttention().getLayers();
            if (layers.size() != attention.size()) {
                mismatches.add("attention layers " + layers.size() + " != " + attention.size());
            } else {
                for (int l = 0; l < layers.size(); l++) {
                    share = Math.max(share, shares(attention.get(l).get("from_answer"), layers.get(l).getFromAnswer(), mismatches));
                    share = Math.max(share, shares(attention.get(l).get("from_query"), layers.get(l).getFromQuery(), mismatches));
                }
            }
        }
        return new Deviation(sampleId, r.getCondition(), Math.abs(e.get("nll_mean").asDouble() - r.getNllMean()),
                Math.abs(e.get("nll_sum").asDouble() - r.getNllSum()), token, documentDelta, share, mismatches);
    }

    private static double shares(JsonNode e, SegmentShares s, List<String> mismatches) {
        if (e == null || e.isNull() || s == null) {
            if ((e == null || e.isNull()) != (s == null)) mismatches.add("attention source presence differs");
            return 0;
        }
        double max = 0;
        for (String field : SegmentFields.shareFields()) max = Math.max(max, Math.abs(e.get(field).asDouble() - SegmentFields.share(s, field)));
        return max;
    }
}
