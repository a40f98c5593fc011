package dkv.scorers.score;

import dkv.avro.Candidate;
import dkv.avro.ExperimentMeta;
import dkv.avro.ModelRef;

/**
 * What records of one sample carry besides their scores: experiment, plan and model as the work named them, and in a
 * ranking experiment the candidate scored in place of the passage (null otherwise).
 */
public record RecordContext(String experimentId, String planHash, ExperimentMeta meta, ModelRef model, Candidate candidate) {

    public RecordContext(String experimentId, String planHash, ExperimentMeta meta, ModelRef model) {
        this(experimentId, planHash, meta, model, null);
    }

    /** The same context for one candidate of a ranking query. */
    public RecordContext forCandidate(Candidate c) {
        return new RecordContext(experimentId, planHash, meta, model, c);
    }
}
