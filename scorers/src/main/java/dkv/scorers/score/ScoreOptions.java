package dkv.scorers.score;

import dkv.avro.ExperimentMeta;

/**
 * How {@link SampleScorer} scores and what it writes into each record besides the scores.
 *
 * @param attention            capture attention shares for every condition (else only where the condition asks)
 * @param tokenLogprobs        include per-token log-probabilities in the records
 * @param shareDocumentPrefill reuse one bare BOS·DOC prefill across the conditions that start with the same ids
 *                             (off: every condition runs its own full forward; scores agree within float error)
 * @param maxBatch             at most this many conditions' forwards run as one padded batch (1: one at a time)
 * @param experimentId         written into every record ("" when scoring offline)
 * @param planHash             written into every record
 * @param modelRevision        {@code model.revision} of the records (null: the snapshot's own, see
 *                             {@link dkv.scorers.model.ModelSnapshot#revision()})
 * @param worker               {@code worker} of the records
 * @param meta                 {@code meta} of the records (null when none)
 */
public record ScoreOptions(boolean attention, boolean tokenLogprobs, boolean shareDocumentPrefill, int maxBatch,
                           String experimentId, String planHash, String modelRevision, String worker,
                           ExperimentMeta meta) {

    public ScoreOptions {
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be >= 1, got " + maxBatch);
    }

    public static ScoreOptions defaults() {
        return new ScoreOptions(false, true, true, 32, "", "", null, "", null);
    }

    public ScoreOptions withAttention(boolean on) {
        return new ScoreOptions(on, tokenLogprobs, shareDocumentPrefill, maxBatch, experimentId, planHash, modelRevision, worker, meta);
    }

    public ScoreOptions withSharing(boolean on) {
        return new ScoreOptions(attention, tokenLogprobs, on, maxBatch, experimentId, planHash, modelRevision, worker, meta);
    }

    public ScoreOptions withMaxBatch(int rows) {
        return new ScoreOptions(attention, tokenLogprobs, shareDocumentPrefill, rows, experimentId, planHash, modelRevision, worker, meta);
    }

    public ScoreOptions withExperiment(String experimentId, String planHash, ExperimentMeta meta) {
        return new ScoreOptions(attention, tokenLogprobs, shareDocumentPrefill, maxBatch, experimentId, planHash, modelRevision, worker, meta);
    }

    public ScoreOptions withWorker(String worker) {
        return new ScoreOptions(attention, tokenLogprobs, shareDocumentPrefill, maxBatch, experimentId, planHash, modelRevision, worker, meta);
    }

    public ScoreOptions withModelRevision(String revision) {
        return new ScoreOptions(attention, tokenLogprobs, shareDocumentPrefill, maxBatch, experimentId, planHash, revision, worker, meta);
    }
}
