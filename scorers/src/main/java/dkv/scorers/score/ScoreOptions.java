package dkv.scorers.score;

import dkv.avro.ExperimentMeta;

/**
 * How {@link SampleScorer} scores and what it writes into each record besides the scores.
 *
 * @param attention            capture attention shares for every condition (else only where the condition asks)
 * @param tokenLogprobs        include per-token log-probabilities in the records
 * @param shareDocumentPrefill prefill each distinct cache head (bare BOS·DOC, truncated BOS·PREFIX·DOC) once and
 *                             reuse it in every condition that starts with its ids (off: every condition runs its
 *                             own forwards, and the bare BOS·DOC still runs once as the reference of
 *                             {@code document_kv_max_abs_delta}; scores agree within float error)
 * @param maxBatch             at most this many conditions' forwards run as one padded batch (1: one at a time)
 * @param maxTokens            at most this many padded new tokens (rows x longest row) per batched forward; a
 *                             single longer forward still runs alone
 * @param experimentId         written into every record ("" when scoring offline)
 * @param planHash             written into every record
 * @param modelRevision        {@code model.revision} of the records (null: the snapshot's own, see
 *                             {@link dkv.scorers.model.ModelSnapshot#revision()})
 * @param worker               {@code worker} of the records
 * @param meta                 {@code meta} of the records (null when none)
 */
public record ScoreOptions(boolean attention, boolean tokenLogprobs, boolean shareDocumentPrefill, int maxBatch, int maxTokens,
                           String experimentId, String planHash, String modelRevision, String worker,
                           ExperimentMeta meta) {

    public ScoreOptions {
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be >= 1, got " + maxBatch);
        if (maxTokens < 1) throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
    }

    /**
     * Padded tokens per forward by default: a few thousand rows' worth of activations, small next to 7B weights. On the
     * H200 decoder bench 4096 and 6144 both ran ~8% faster than 16384 (cuBLAS's GEMMs run faster at a few thousand rows
     * than at ten thousand, ops/gpu/bench/gemm_check.py; NOTES "Session 4").
     */
    public static final int DEFAULT_MAX_TOKENS = 6144;

    public static ScoreOptions defaults() {
        return new ScoreOptions(false, true, true, 32, DEFAULT_MAX_TOKENS, "", "", null, "", null);
    }

    public ScoreOptions withAttention(boolean on) {
        return new ScoreOptions(on, tokenLogprobs, shareDocumentPrefill, maxBatch, maxTokens, experimentId, planHash, modelRevision, worker, meta);
    }

    public ScoreOptions withSharing(boolean on) {
        return new ScoreOptions(attention, tokenLogprobs, on, maxBatch, maxTokens, experimentId, planHash, modelRevision, worker, meta);
    }

    public ScoreOptions withMaxBatch(int rows) {
        return new ScoreOptions(attention, tokenLogprobs, shareDocumentPrefill, rows, maxTokens, experimentId, planHash, modelRevision, worker, meta);
    }

    public ScoreOptions withMaxTokens(int tokens) {
        return new ScoreOptions(attention, tokenLogprobs, shareDocumentPrefill, maxBatch, tokens, experimentId, planHash, modelRevision, worker, meta);
    }

    public ScoreOptions withWorker(String worker) {
        return new ScoreOptions(attention, tokenLogprobs, shareDocumentPrefill, maxBatch, maxTokens, experimentId, planHash, modelRevision, worker, meta);
    }
}
