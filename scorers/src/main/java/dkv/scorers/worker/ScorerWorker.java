package dkv.scorers.worker;

import dkv.avro.ScoreRecord;
import dkv.avro.WorkItem;
import dkv.platform.config.KafkaSettings;
import dkv.platform.kafka.TransactionalProcessor;
import dkv.schemas.Topics;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * A scorer worker: consumes {@code dkv.work} in the consumer group {@code dkv-scorers} and produces
 * {@code dkv.scores} (and {@code dkv.dead}) exactly once through a {@link TransactionalProcessor}
 * (see {@link TransactionalWorker}).
 */
public final class ScorerWorker extends TransactionalWorker<WorkItem, ScoreRecord> {
    public static final String GROUP = "dkv-scorers";

    private ScorerWorker(TransactionalProcessor<String, WorkItem, String, ScoreRecord> processor, Options options) {
        super(processor, options);
    }

    /** Defaults for a worker of {@link #GROUP}: four WorkItems per transaction. */
    public static Options options(String workerId) {
        return Options.of(GROUP, workerId);
    }

    /**
     * Starts consuming. {@code scoring} is this worker's batch function; {@code registry} receives the
     * processor's own meters (transactions, batches).
     */
    public static ScorerWorker start(KafkaSettings settings, Options options, ScoreBatchFunction scoring, MeterRegistry registry) {
        return new ScorerWorker(startProcessor(settings, options, Topics.WORK, WorkItem.class, ScoreRecord.class, scoring, registry),
                options);
    }
}
