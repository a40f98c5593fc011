package dkv.aggregator.state;

import dkv.avro.AttentionShares;
import dkv.avro.ScoreRecord;

/** The part of a score the aggregator analyses; attention is null when the condition did not capture it. */
public record Score(String experimentId, String sampleId, String condition, double nll, int suffixTokens,
                    AttentionShares attention) {

    public static Score of(ScoreRecord record) {
        int suffix = record.getSegments() == null ? 0 : record.getSegments().getSuffix();
        return new Score(record.getExperimentId(), record.getSampleId(), record.getCondition(), record.getNllMean(),
                suffix, record.getAttention());
    }
}
