package dkv.scorers.worker;

import dkv.platform.config.KafkaSettings;
import dkv.platform.kafka.TopicLayout;
import dkv.platform.kafka.TransactionalProcessor;
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
 * A worker of one consumer group over the platform's {@link TransactionalProcessor}: consumes one input topic of
 * Avro records keyed by strings and produces output records (and {@code dkv.dead}) exactly once. The worker id is the
 * static group member id and names the transactional id, so a restarted worker with the same id takes its partitions
 * straight back and fences (aborts) the open transaction of its killed predecessor. {@link ScorerWorker} and the
 * generator worker are this with their own topics and batch functions.
 */
public class TransactionalWorker<V extends SpecificRecord, OV extends SpecificRecord> implements Worker {

    private final TransactionalProcessor<String, V, String, OV> processor;
    private final Options options;

    protected TransactionalWorker(TransactionalProcessor<String, V, String, OV> processor, Options options) {
        this.processor = processor;
        this.options = options;
    }

    /** Creates the dkv topics that are missing (the partitioned ones with {@code workPartitions}); returns those created. */
    public static List<String> ensureTopics(KafkaSettings settings, int workPartitions, short replicationFactor) {
        try (Admin admin = Admin.create(settings.admin("worker-admin"))) {
            return TopicLayout.ensure(admin, TopicLayout.dkv(workPartitions, replicationFactor));
        }
    }

    /** Creates missing topics, then starts a processor from {@code input} records to {@code output} records. */
    protected static <V extends SpecificRecord, OV extends SpecificRecord> TransactionalProcessor<String, V, String, OV> startProcessor(
            KafkaSettings settings, Options options, String inputTopic, Class<V> input, Class<OV> output,
            TransactionalProcessor.BatchFunction<String, V, String, OV> function, MeterRegistry registry) {
        ensureTopics(settings, options.workPartitions(), options.replicationFactor());
        return TransactionalProcessor.<String, V, String, OV>builder(settings)
                .groupId(options.groupId())
                .workerId(options.workerId())
                .input(List.of(inputTopic), new StringDeserializer(), AvroSerde.of(input))
                .output(new StringSerializer(), AvroSerde.of(output))
                .perBatch(function)
                .deadLetterTopic(Topics.DEAD)
                .maxPollRecords(options.maxPollRecords())
                .meterRegistry(registry)
                .build()
                .start();
    }

    public String workerId() {
        return options.workerId();
    }

    /** The input partitions this worker holds now: empty until its consumer has joined the group. */
    public Set<TopicPartition> assignment() {
        return processor.assignment();
    }

    public boolean isRunning() {
        return processor.isRunning();
    }

    /** Why the worker stopped on its own, if it did. */
    public Optional<Throwable> failure() {
        return processor.failure();
    }

    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        return processor.awaitTermination(timeout);
    }

    /** Stops as a killed process would: the open transaction stays open until a successor with the same id aborts it. */
    public void halt() {
        processor.halt();
    }

    /** Graceful: the batch in progress is processed and committed, then the worker leaves the group. */
    @Override
    public void close() {
        processor.close();
    }
}
