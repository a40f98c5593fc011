package dkv.scorers.worker;

import dkv.avro.ScoreRecord;
import dkv.avro.WorkItem;
import dkv.platform.config.KafkaSettings;
import dkv.platform.kafka.TransactionalPipeline;
import dkv.platform.pipeline.StagedCalls;
import dkv.schemas.Topics;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * A scorer worker: consumes {@code dkv.work} in the consumer group {@code dkv-scorers} and produces
 * {@code dkv.scores} (and {@code dkv.dead}) exactly once through a {@link TransactionalPipeline} (see
 * {@link PipelineWorker}): poll → decode → prepare (tokenize, lay out, plan: CPU worker threads) → score (one thread
 * owns the model) → commit, with up to {@code --prefetch} prepared calls waiting while one is scored.
 */
public final class ScorerWorker extends PipelineWorker<WorkItem, ScoreBatchFunction.Prepared, ScoreRecord> {
    public static final String GROUP = "dkv-scorers";

    private ScorerWorker(TransactionalPipeline<String, WorkItem, ScoreBatchFunction.Prepared, String, ScoreRecord> pipeline, Options options) {
        super(pipeline, options);
    }

    /**
     * Starts consuming. {@code scoring} is this worker's prepare and score stages, {@code stages} how many calls are
     * prepared ahead and on how many threads; {@code registry} receives the
     * pipeline's own meters (per stage queue and busy time, calls committed, aborted and dropped).
     */
    public static ScorerWorker start(KafkaSettings settings, Options options, StagedCalls.Settings stages, ScoreBatchFunction scoring,
                                     MeterRegistry registry) {
        return new ScorerWorker(startPipeline(settings, options, Topics.WORK, WorkItem.class, ScoreRecord.class, stages, scoring,
                registry), options);
    }
}
