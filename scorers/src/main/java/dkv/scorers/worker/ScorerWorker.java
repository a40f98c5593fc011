package dkv.scorers.worker;

import dkv.avro.ScoreRecord;
import dkv.avro.WorkItem;
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
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A scorer worker: consumes {@code dkv.work} in the consumer group {@code dkv-scorers} and produces
 * {@code dkv.scores} (and {@code dkv.dead}) exactly once through a {@link TransactionalProcessor}. The worker
 * id is the static group member id and names the transactional id, so a restarted worker with the same id
 * takes its partitions straight back and fences (aborts) the open transaction of its killed predecessor.
 */
public final class ScorerWorker implements AutoCloseable {
    public static final String GROUP = "dkv-scorers";

    /**
     * @param workerId          stable across restarts of this worker (see {@link WorkerIds})
     * @param maxPollRecords    WorkItems per transaction at most
     * @param workPartitions    partitions of {@code dkv.work} / {@code dkv.scores} when this worker creates them
     * @param replicationFactor of the topics this worker creates
     */
    public record Options(String groupId, String workerId, int maxPollRecords, int workPartitions, short replicationFactor) {
        public Options {
            if (maxPollRecords < 1) {
                throw new IllegalArgumentException("--max-poll-records must be at least 1, got " + maxPollRecords);
            }
        }

        public static Options of(String workerId) {
            return new Options(GROUP, workerId, 4, Topics.DEFAULT_WORK_PARTITIONS, (short) 1);
        }

        public Options withMaxPollRecords(int records) {
            return new Options(groupId, workerId, records, workPartitions, replicationFactor);
        }
    }

    private final TransactionalProcessor<String, WorkItem, String, ScoreRecord> processor;
    private final Options options;

    private ScorerWorker(TransactionalProcessor<String, WorkItem, String, ScoreRecord> processor, Options options) {
        this.processor = processor;
        this.options = options;
    }

    /** Creates the dkv topics that are missing (the work topic with {@code workPartitions}); returns those created. */
    public static List<String> ensureTopics(KafkaSettings settings, int workPartitions, short replicationFactor) {
        try (Admin admin = Admin.create(settings.admin("scorer-admin"))) {
            return TopicLayout.ensure(admin, TopicLayout.dkv(workPartitions, replicationFactor));
        }
    }

    /**
     * Starts consuming. {@code scoring} is this worker's batch function; {@code registry} receives the
     * processor's own meters (transactions, batches).
     */
    public static ScorerWorker start(KafkaSettings settings, Options options, ScoreBatchFunction scoring, MeterRegistry registry) {
        ensureTopics(settings, options.workPartitions(), options.replicationFactor());
        TransactionalProcessor<String, WorkItem, String, ScoreRecord> processor =
                TransactionalProcessor.<String, WorkItem, String, ScoreRecord>builder(settings)
                        .groupId(options.groupId())
                        .workerId(options.workerId())
                        .input(List.of(Topics.WORK), new StringDeserializer(), AvroSerde.of(WorkItem.class))
                        .output(new StringSerializer(), AvroSerde.of(ScoreRecord.class))
                        .perBatch(scoring)
                        .deadLetterTopic(Topics.DEAD)
                        .maxPollRecords(options.maxPollRecords())
                        .meterRegistry(registry)
                        .build();
        return new ScorerWorker(processor.start(), options);
    }

    public String workerId() {
        return options.workerId();
    }

    /** The work partitions this worker holds now: empty until its consumer has joined the group. */
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

    /** Graceful: the batch in progress is scored and committed, then the worker leaves the group. */
    @Override
    public void close() {
        processor.close();
    }
}
