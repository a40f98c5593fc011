package dkv.scorers.worker;

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
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A worker of one consumer group over the platform's {@link TransactionalPipeline}: consumes one input topic of Avro
 * records keyed by strings, prepares each poll on CPU worker threads and scores it on one thread (its {@code P} is what
 * the prepare stage hands the score stage), and produces output records (and {@code dkv.dead}) exactly once. The worker
 * id is the static group member id and names the transactional id, so a restarted worker with the same id takes its
 * partitions straight back and fences (aborts) the open transaction of its killed predecessor. {@link ScorerWorker} and
 * the generator worker are this with their own topics and stages.
 */
public class PipelineWorker<V extends SpecificRecord, P, OV extends SpecificRecord> implements Worker {

    private final TransactionalPipeline<String, V, P, String, OV> pipeline;
    private final Options options;

    protected PipelineWorker(TransactionalPipeline<String, V, P, String, OV> pipeline, Options options) {
        this.pipeline = pipeline;
        this.options = options;
    }

    /** Creates the dkv topics that are missing (the partitioned ones with {@code workPartitions}); returns those created. */
    public static List<String> ensureTopics(KafkaSettings settings, int workPartitions, short replicationFactor) {
        try (Admin admin = Admin.create(settings.admin("worker-admin"))) {
            return TopicLayout.ensure(admin, TopicLayout.dkv(workPartitions, replicationFactor));
        }
    }

    /**
     * Creates missing topics, then starts a pipeline from {@code input} records to {@code output} records: {@code work}
     * is its prepare and score stages, {@code stages} how many calls are prepared ahead and on how many threads;
     * {@code registry} receives the pipeline's own meters (per stage queue and busy time, calls committed, aborted and
     * dropped).
     */
    protected static <V extends SpecificRecord, P, OV extends SpecificRecord> TransactionalPipeline<String, V, P, String, OV> startPipeline(
            KafkaSettings settings, Options options, String inputTopic, Class<V> input, Class<OV> output, StagedCalls.Settings stages,
            TransactionalPipeline.Stages<String, V, P, String, OV> work, MeterRegistry registry) {
        ensureTopics(settings, options.workPartitions(), options.replicationFactor());
        return TransactionalPipeline.<String, V, P, String, OV>builder(settings)
                .groupId(options.groupId())
                .workerId(options.workerId())
                .input(List.of(inputTopic), new StringDeserializer(), AvroSerde.of(input))
                .output(new StringSerializer(), AvroSerde.of(output))
                .stages(work)
                .stagedCalls(stages)
                .deadLetterTopic(Topics.DEAD)
                .maxPollRecords(options.maxPollRecords())
                .meterRegistry(registry)
                .build()
                .start();
    }

    @Override
    public String workerId() {
        return options.workerId();
    }

    /** The input partitions this worker holds now: empty until its consumer has joined the group. */
    public Set<TopicPartition> assignment() {
        return pipeline.assignment();
    }

    @Override
    public boolean isRunning() {
        return pipeline.isRunning();
    }

    /** Why the worker stopped on its own, if it did. */
    @Override
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

    /**
     * Stops as a killed process would ({@link TransactionalPipeline#halt()}): nothing more is committed, and the open
     * transaction stays open until a successor with the same id aborts it. Callable from the stages themselves.
     */
    public void halt() {
        pipeline.halt();
    }

    /** Graceful: the calls in flight are processed and committed, then the worker leaves the group. */
    @Override
    public void close() {
        pipeline.close();
    }
}
