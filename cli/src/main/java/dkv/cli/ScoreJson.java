package dkv.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.avro.LayerShares;
import dkv.avro.ScoreRecord;
import dkv.avro.SegmentShares;
import dkv.avro.SegmentTokens;
import dkv.schemas.SegmentFields;
import java.util.List;

/**
 * The JSON line of one ScoreRecord written by {@code dkv score}: {@code nll} is the answer's mean NLL (what
 * {@code dkv aggregate} reads), the other names follow the Avro record.
 */
public final class ScoreJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ScoreJson() {}

    public static String line(ScoreRecord r) {
        ObjectNode o = JSON.createObjectNode();
        o.put("experiment_id", r.getExperimentId());
        o.put("sample_id", r.getSampleId());
        o.put("condition", r.getCondition());
        if (r.getGroup() != null) {
            o.put("group", r.getGroup());
        }
        o.put("nll", r.getNllMean());
        o.put("nll_sum", r.getNllSum());
        o.put("answer_tokens", r.getAnswerTokens());
        o.set("segment_tokens", segments(r.getSegments()));
        if (r.getEncoderSegments() != null) o.set("encoder_segment_tokens", segments(r.getEncoderSegments()));
        if (r.getCandidateId() != null) {
            o.put("query_id", r.getQueryId());
            o.put("candidate_id", r.getCandidateId());
            o.put("relevance", r.getRelevance());
        }
        o.put("target", r.getTarget().name());
        if (r.getQuerySimilarity() != null) { // what dkv aggregate --derived NAME=routed:... routes by
            o.put("query_similarity", r.getQuerySimilarity());
        }
        if (r.getDocumentKvMaxAbsDelta() == null) {
            o.putNull("document_kv_max_abs_delta");
        } else {
            o.put("document_kv_max_abs_delta", r.getDocumentKvMaxAbsDelta());
        }
        if (r.getTokenLogprobs() != null) {
            ArrayNode lp = o.putArray("token_logprobs");
            r.getTokenLogprobs().forEach(lp::add);
        }
        if (r.getAttention() != null) {
            layers(o.putArray("attention"), r.getAttention().getLayers());
            // an encoder-decoder's shares of the encoder stream (its decoder's cross attention)
            if (!r.getAttention().getCrossLayers().isEmpty()) {
                layers(o.putArray("cross_attention"), r.getAttention().getCrossLayers());
            }
        }
        o.put("plan_hash", r.getPlanHash());
        o.putObject("model").put("id", r.getModel().getId()).put("revision", r.getModel().getRevision());
        o.put("device", r.getDevice());
        o.put("dtype", r.getDtype());
        o.put("score_ms", r.getScoreMs());
        return o.toString();
    }

    private static void layers(ArrayNode out, List<LayerShares> layers) {
        for (LayerShares l : layers) {
            ObjectNode layer = out.addObject();
            layer.put("layer", l.getLayer());
            if (l.getFromQuery() != null) {
                layer.set("from_query", shares(l.getFromQuery()));
            }
            layer.set("from_answer", shares(l.getFromAnswer()));
        }
    }

        private static ObjectNode segments(SegmentTokens s) {
        ObjectNode o = JSON.createObjectNode();
        for (String field : SegmentFields.tokenFields()) o.put(field, SegmentFields.count(s, field));
        return o;
    }

    private static ObjectNode shares(SegmentShares s) {
        ObjectNode o = JSON.createObjectNode();
        for (String field : SegmentFields.shareFields()) o.put(field, SegmentFields.share(s, field));
        return o;
    }
}
