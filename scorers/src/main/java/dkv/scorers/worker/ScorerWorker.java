package dkv.scorers.worker;

import dkv.avro.ScoreRecord;
import dkv.avro.WorkItem;
import dkv.platform.config.KafkaSettings;
import dkv.platform.kafka.TopicLayout;
import dkv.platform.kafka.TransactionalPipeline;
import dkv.platform.pipeline.StagedCalls;
import dkv.schemas.AvroSerde;
import dkv.schemas.Topics;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A scorer worker: consumes {@code dkv.work} in the consumer group {@code dkv-scorers} and produces
 * {@code dkv.scores} (and {@code dkv.dead}) exactly once through a {@link TransactionalPipeline}: poll → decode →
 * prepare (tokenize, lay out, plan: CPU worker threads) → score (one thread owns the model) → commit, with up to
 * {@code --prefetch} prepared calls waiting while one is scored. The worker
 * id is the static group member id and names the transactional id, so a restarted worker with the same id
 * takes its partitions straight back and fences (aborts) the open transaction of its killed predecessor.
 */
public final class ScorerWorker implements Worker {
    public static final String GROUP = "dkv-scorers";

    private final TransactionalPipeline<String, WorkItem, ScoreBatchFunction.Prepared, String, ScoreRecord> pipeline;
    private final Options options;

    private ScorerWorker(TransactionalPipeline<String, WorkItem, ScoreBatchFunction.Prepared, String, ScoreRecord> pipeline, Options options) {
        this.pipeline = pipeline;
        this.options = options;
    }


    /**
     * Starts consuming. {@code scoring} is this worker's prepare and score stages, {@code stages} how many calls are
     * prepared ahead and on how many threads; {@code registry} receives the
     * pipeline's own meters (per stage queue and busy time, calls committed, aborted and dropped).
     */
    public static ScorerWorker start(KafkaSettings settings, Options options, StagedCalls.Settings stages, ScoreBatchFunction scoring,
                                     MeterRegistry registry) {
        TransactionalWorker.ensureTopics(settings, options.workPartitions(), options.replicationFactor());
        TransactionalPipeline<String, WorkItem, ScoreBatchFunction.Prepared, String, ScoreRecord> pipeline =
                TransactionalPipeline.<String, WorkItem, ScoreBatchFunction.Prepared, String, ScoreRecord>builder(settings)
                        .groupId(options.groupId())
                        .workerId(options.workerId())
                        .input(List.of(Topics.WORK), new StringDeserializer(), AvroSerde.of(WorkItem.class))
                        .output(new StringSerializer(), AvroSerde.of(ScoreRecord.class))
                        .stages(scoring)
                        .stagedCalls(stages)
                        .deadLetterTopic(Topics.DEAD)
                        .maxPollRecords(options.maxPollRecords())
                        .meterRegistry(registry)
                        .build();
        return new ScorerWorker(pipeline.start(), options);
    }

    public String workerId() {
        return options.workerId();
    }

    /** The work partitions this worker holds now: empty until its consumer has joined the group. */
    public Set<TopicPartition> assignment() {
        return pipeline.assignment();
    }

    public boolean isRunning() {
        return pipeline.isRunning();
    }

    /** Why the worker stopped on its own, if it did. */
    public Optional<Throwable> failure() {
        return pipeline.failure();
    }

    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        return pipeline.awaitTermination(timeout);
    }

    /** The prepare → score stages, for their meters (e.g. the prepared calls held). */
    public StagedCalls stagedCalls() {
        return pipeline.stagedCalls();
    }

    /** Graceful: the calls in flight are scored and committed, then the worker leaves the group. */
    @Override
    public void close() {
        pipeline.close();
    }
}
