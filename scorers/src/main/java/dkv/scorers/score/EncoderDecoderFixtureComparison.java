package dkv.scorers.score;

import com.fasterxml.jackson.databind.JsonNode;
import dkv.avro.LayerShares;
import dkv.avro.ScoreRecord;
import dkv.avro.SegmentShares;
import dkv.avro.SegmentTokens;
import dkv.schemas.SegmentFields;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link FixtureComparison} for an encoder-decoder fixture's records ({@code ops/reference/t5gemma2_fixtures.py}): the
 * decoder stream's segments against {@code decoder_segments}, the encoder's against {@code encoder_segments}, answer
 * log-probs, no document check, and per decoder layer the self shares ({@code attention.decoder}) against the record's
 * {@code layers} and the cross shares ({@code attention.encoder}) against its {@code cross_layers}.
 */
final class EncoderDecoderFixtureComparison {

    private EncoderDecoderFixtureComparison() {
    }

    /** Whether {@code expected} is an encoder-decoder record. */
    static boolean applies(JsonNode expected) {
        return expected.has("decoder_segments");
    }

    static FixtureComparison.Deviation compare(JsonNode e, ScoreRecord r, String sampleId) {
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
        segments("decoder", e.get("decoder_segments"), r.getSegments(), mismatches);
        segments("encoder", e.get("encoder_segments"), r.getEncoderSegments(), mismatches);
        if (r.getDocumentKvMaxAbsDelta() != null) mismatches.add("a document check on an encoder-decoder");
        double share = 0;
        JsonNode attention = e.get("attention");
        if (attention == null || attention.isNull()) {
            if (r.getAttention() != null) mismatches.add("attention shares unexpected");
        } else if (r.getAttention() == null) {
            mismatches.add("attention shares missing");
        } else {
            List<LayerShares> self = r.getAttention().getLayers();
            List<LayerShares> cross = r.getAttention().getCrossLayers();
            if (self.size() != attention.size() || cross.size() != attention.size()) {
                mismatches.add("attention layers " + self.size() + "/" + cross.size() + " != " + attention.size());
            } else {
                for (int l = 0; l < attention.size(); l++) {
                    for (String source : new String[] {"from_query", "from_answer"}) {
                        JsonNode expected = attention.get(l).get(source);
                        SegmentShares mineSelf = source.equals("from_query") ? self.get(l).getFromQuery() : self.get(l).getFromAnswer();
                        SegmentShares mineCross = source.equals("from_query") ? cross.get(l).getFromQuery() : cross.get(l).getFromAnswer();
                        if (expected == null || expected.isNull()) {
                            if (mineSelf != null || mineCross != null) mismatches.add("layer " + l + " " + source + " unexpected");
                            continue;
                        }
                        if (mineSelf == null || mineCross == null) {
                            mismatches.add("layer " + l + " " + source + " missing");
                            continue;
                        }
                        share = Math.max(share, shares(expected.get("decoder"), mineSelf));
                        share = Math.max(share, shares(expected.get("encoder"), mineCross));
                    }
                }
            }
        }
        return new FixtureComparison.Deviation(sampleId, r.getCondition(), Math.abs(e.get("nll_mean").asDouble() - r.getNllMean()),
                Math.abs(e.get("nll_sum").asDouble() - r.getNllSum()), token, 0, share, mismatches);
    }

    private static void segments(String stream, JsonNode expected, SegmentTokens mine, List<String> mismatches) {
        if (mine == null) {
            mismatches.add(stream + " segments missing");
            return;
        }
        for (String field : SegmentFields.tokenFields()) {
            int want = expected.has(field) ? expected.get(field).asInt() : 0;  // a stream's absent segments count 0
            int got = SegmentFields.count(mine, field);
            if (want != got) mismatches.add(stream + " " + field + " tokens " + got + " != " + want);
        }
    }

    /** Max |Δ| over every share field; a field the fixture leaves out (another stream's segment) must be 0. */
    private static double shares(JsonNode expected, SegmentShares mine) {
        double max = 0;
        for (String field : SegmentFields.shareFields()) {
            double want = expected.has(field) ? expected.get(field).asDouble() : 0;
            max = Math.max(max, Math.abs(want - SegmentFields.share(mine, field)));
        }
        return max;
    }
}
