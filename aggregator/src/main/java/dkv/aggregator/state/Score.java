package dkv.aggregator.state;

import dkv.avro.AttentionShares;
import dkv.avro.ScoreRecord;

/**
 * The part of a score the aggregator analyses; attention is null when the condition did not capture it. In a
 * ranking experiment {@code sampleId} is the query and {@code candidate} the scored candidate; else it is null.
 * {@code querySimilarity} is the condition's surrogate-to-query cosine where the producer computed one (what a
 * routed or rank_average derived condition reads); else null.
 */
public record Score(String experimentId, String sampleId, String condition, double nll, int suffixTokens,
                    AttentionShares attention, Candidate candidate, Double querySimilarity) {

    /** A ranking record's candidate: its id (unique within the query) and graded relevance. */
    public record Candidate(String id, double relevance) {}

    public Score(String experimentId, String sampleId, String condition, double nll, int suffixTokens,
                 AttentionShares attention, Candidate candidate) {
        this(experimentId, sampleId, condition, nll, suffixTokens, attention, candidate, null);
    }

    public Score(String experimentId, String sampleId, String condition, double nll, int suffixTokens,
                 AttentionShares attention) {
        this(experimentId, sampleId, condition, nll, suffixTokens, attention, null, null);
    }

    public static Score of(ScoreRecord record) {
        int suffix = record.getSegments() == null ? 0 : record.getSegments().getSuffix();
        Candidate candidate = null;
        String sample = record.getSampleId();
        if (record.getCandidateId() != null) {
            Double relevance = record.getRelevance();
            if (relevance == null || !Double.isFinite(relevance)) {
                // guessing 0 would silently turn an unjudged candidate into a non-relevant one
                throw new IllegalArgumentException("score " + record.getExperimentId() + "/" + record.getSampleId()
                        + "/" + record.getCandidateId() + "/" + record.getCondition() + ": candidate without relevance");
            }
            candidate = new Candidate(record.getCandidateId(), relevance);
            if (record.getQueryId() != null) {
                sample = record.getQueryId();
            }
        }
        return new Score(record.getExperimentId(), sample, record.getCondition(), record.getNllMean(), suffix,
                record.getAttention(), candidate, record.getQuerySimilarity());
    }

    /**
     * What one NLL belongs to, the de-duplication key together with the condition: the sample, or in a ranking
     * experiment the (query, candidate) pair, joined by U+001F, which ids do not contain.
     */
    public String unit() {
        return candidate == null ? sampleId : sampleId + '\u001f' + candidate.id();
    }
}
