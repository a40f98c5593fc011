package dkv.platform.kafka;

import dkv.platform.config.KafkaSettings;
import dkv.platform.pipeline.StageMeter;
import dkv.platform.pipeline.StagedCalls;
import dkv.schemas.Topics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * A service's exactly-once consume → process → produce loop as a Reactor pipeline of named stages
 * (docs/architecture.md "Service pipelines"):
 * <pre>
 * poll (KafkaReceiver.receiveBatches) → decode → prepare (CPU worker threads) → score (one thread) → commit (transaction)
 * </pre>
 * Each poll is one call. Demand couples the stages: the receiver polls a batch only when the prepare stage may take
 * one, and at most {@code prefetch} prepared calls wait for the score stage ({@link StagedCalls}), so the host
 * prepares call k+1 while call k is scored and memory stays bounded when scoring is the bottleneck.
 *
 * <p>Commit: a call's outputs (and dead letters) and its consumed offsets are committed in one short Kafka
 * transaction on the receiver's poll thread, after scoring, in poll order. A worker killed at any point leaves
 * no committed outputs without their offsets (its successor, same worker id and so same {@code transactional.id},
 * aborts whatever transaction it left open), so its calls in flight are read and scored again, once.
 *
 * <p>Rebalances: a revoked or lost partition with records in flight invalidates every call not yet committed
 * ({@link ReceivedBatch#isValid()}): the prepare and score stages skip such calls, their commits are refused, and
 * the partitions this worker keeps are read again from their first uncommitted record. A transaction that aborts
 * (e.g. the group generation moved under it) does the same.
 *
 * <p>Errors: a record that cannot be decoded, or that the score stage fails ({@link Outcome.Failed}), or whose
 * output cannot be encoded, becomes a {@code dkv.avro.DeadLetter} in the call's transaction. An exception from a
 * stage, a fenced producer or any other non-abortable error stops the pipeline ({@link #failure()}).
 *
 * <p>Graceful stop ({@link #close()}): no more polls; the calls in flight are scored and committed; then the worker
 * leaves the group. {@link #halt()} stops as a killed process would instead, for the exactly-once tests.
 */
public final class TransactionalPipeline<K, V, P, OK, OV> implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TransactionalPipeline.class);

    /** The service's own stages between decode and commit. */
    public interface Stages<K, V, P, OK, OV> {
        /** Host work for a call (CPU worker threads; may run while the previous call is scored). */
        P prepare(List<ConsumerRecord<K, V>> records);

        /** The call's scoring, on the one score thread: one outcome per record of {@code prepare}'s input, in order. */
        List<Outcome<OK, OV>> score(P prepared);
    }

    /** Told after each committed transaction, on the poll thread: keep it quick. */
    @FunctionalInterface
    public interface CommitListener {
        void committed(int records, int outputs, int deadLetters);
    }

    private final Builder<K, V, P, OK, OV> config;
    private final KafkaReceiver<byte[], byte[]> receiver;
    private final KafkaProducer<byte[], byte[]> producer;
    private final DeadLetters deadLetters;
    private final StagedCalls calls;
    private final StageMeter decode;
    private final StageMeter commit;
    private final Scheduler commitThread;
    private final KafkaClientMetrics producerMetrics;
    private final Counter committedCalls;
    private final Counter abortedCalls;
    private final Counter droppedCalls;
    private final Counter recordsOk;
    private final Counter recordsDead;
    private final CountDownLatch terminated = new CountDownLatch(1);
    private volatile Throwable failure;
    private volatile boolean halted;
    private Disposable subscription; // guarded by this
    private boolean closed; // guarded by this
    private boolean producerClosed; // guarded by this

    /** A call on its way through the stages. */
    private record Decoded<K, V>(ReceivedBatch<byte[], byte[]> batch, List<ConsumerRecord<K, V>> records,
                                 List<ConsumerRecord<byte[], byte[]>> sources, List<ProducerRecord<byte[], byte[]>> deadLetters) {}

    private record Prepared<K, V, P>(Decoded<K, V> decoded, P prepared) {}

    private record Scored<K, V, OK, OV>(Decoded<K, V> decoded, List<Outcome<OK, OV>> outcomes) {}

    private TransactionalPipeline(Builder<K, V, P, OK, OV> config) {
        this.config = config;
        Map<String, Object> consumerOverrides = new HashMap<>();
        consumerOverrides.put(ConsumerConfig.CLIENT_ID_CONFIG, config.settings.clientId() + "-" + config.workerId);
        consumerOverrides.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, CooperativeStickyAssignor.class.getName());
        // static membership: a restarted worker takes its partitions straight back
        consumerOverrides.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, config.workerId);
        consumerOverrides.putAll(config.consumerOverrides);
        this.receiver = KafkaReceiver.create(ReceiverOptions.of(config.settings, config.groupId, config.topics,
                        new ByteArrayDeserializer(), new ByteArrayDeserializer())
                .withMaxPollRecords(config.maxPollRecords)
                .withConsumerOverrides(consumerOverrides)
                .withListener(new Rebalance())).withClientMetrics(config.registry);
        Map<String, Object> producerOverrides = new HashMap<>();
        producerOverrides.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId(config.groupId, config.workerId));
        producerOverrides.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        producerOverrides.put(ProducerConfig.ACKS_CONFIG, "all");
        producerOverrides.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        producerOverrides.putAll(config.producerOverrides);
        this.producer = new KafkaProducer<>(config.settings.producer(config.workerId, producerOverrides),
                new ByteArraySerializer(), new ByteArraySerializer());
        this.deadLetters = new DeadLetters(config.deadLetterTopic, config.workerId);
        String name = config.groupId + "/" + config.workerId;
        MeterRegistry registry = config.registry;
        this.calls = new StagedCalls(config.workerId, config.stagedCalls, registry);
        this.decode = new StageMeter(registry, config.workerId, "decode");
        this.commit = new StageMeter(registry, config.workerId, "commit");
        this.commitThread = Schedulers.newSingle("dkv-commit-" + config.workerId, true);
        this.committedCalls = Counter.builder("dkv.pipeline.calls").tag("pipeline", config.workerId).tag("result", "committed").register(registry);
        this.abortedCalls = Counter.builder("dkv.pipeline.calls").tag("pipeline", config.workerId).tag("result", "aborted").register(registry);
        this.droppedCalls = Counter.builder("dkv.pipeline.calls").tag("pipeline", config.workerId).tag("result", "dropped").register(registry);
        this.recordsOk = Counter.builder("dkv.pipeline.records").tag("pipeline", config.workerId).tag("outcome", "processed").register(registry);
        this.recordsDead = Counter.builder("dkv.pipeline.records").tag("pipeline", config.workerId).tag("outcome", "dead_letter").register(registry);
        this.producerMetrics = new KafkaClientMetrics(producer);
        producerMetrics.bindTo(registry);
        log.debug("pipeline {} built: {}", name, config.stagedCalls);
    }

    public static <K, V, P, OK, OV> Builder<K, V, P, OK, OV> builder(KafkaSettings settings) {
        return new Builder<>(settings);
    }

    /** The transactional id is stable per worker, so a restarted worker fences its dead predecessor. */
    public static String transactionalId(String groupId, String workerId) {
        return groupId + "/" + workerId;
    }

    /** Fences a killed predecessor (same transactional id), then starts polling; returns once running. */
    public synchronized TransactionalPipeline<K, V, P, OK, OV> start() {
        if (subscription != null || closed) {
            throw new IllegalStateException("pipeline " + config.workerId + " already started or closed");
        }
        producer.initTransactions();
        subscription = calls.apply(receiver.receiveBatches(), this::decodeAndPrepare, this::score)
                .concatMap(this::commit, 1)
                .publishOn(commitThread)
                .doOnError(e -> {
                    if (halted) { // the clients were closed under the calls in flight: that is the halt, not a failure
                        log.debug("pipeline {}: halted: {}", config.workerId, e.toString());
                        return;
                    }
                    failure = e;
                    log.error("pipeline {} of group {} stopped", config.workerId, config.groupId, e);
                })
                .doFinally(_ -> Thread.ofPlatform().name("dkv-pipeline-stop-" + config.workerId).start(this::shutDown))
                .subscribe(_ -> {}, _ -> {});
        return this;
    }

    /** Decode and prepare, on a CPU worker thread. A call already invalidated by a rebalance (or a halt) is not prepared. */
    private Prepared<K, V, P> decodeAndPrepare(ReceivedBatch<byte[], byte[]> batch) throws Exception {
        Decoded<K, V> decoded = decode.busy(() -> decode(batch));
        if (halted || !batch.isValid()) {
            return new Prepared<>(decoded, null);
        }
        return new Prepared<>(decoded, config.stages.prepare(List.copyOf(decoded.records())));
    }

    private Decoded<K, V> decode(ReceivedBatch<byte[], byte[]> batch) {
        List<ConsumerRecord<K, V>> records = new ArrayList<>();
        List<ConsumerRecord<byte[], byte[]>> sources = new ArrayList<>();
        List<ProducerRecord<byte[], byte[]>> dead = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> raw : batch.records()) {
            try {
                K key = raw.key() == null ? null : config.keyDeserializer.deserialize(raw.topic(), raw.headers(), raw.key());
                V value = raw.value() == null ? null : config.valueDeserializer.deserialize(raw.topic(), raw.headers(), raw.value());
                records.add(new ConsumerRecord<>(raw.topic(), raw.partition(), raw.offset(), raw.timestamp(), raw.timestampType(),
                        raw.serializedKeySize(), raw.serializedValueSize(), key, value, raw.headers(), raw.leaderEpoch()));
                sources.add(raw);
            } catch (RuntimeException e) {
                dead.add(deadLetters.of(raw, "decode", e));
            }
        }
        return new Decoded<>(batch, records, sources, dead);
    }

    /** On the score thread. A call invalidated while it waited (or after a halt) is dropped here, before any device work. */
    private Scored<K, V, OK, OV> score(Prepared<K, V, P> call) {
        if (halted || !call.decoded().batch().isValid() || call.prepared() == null) {
            return new Scored<>(call.decoded(), null);
        }
        List<Outcome<OK, OV>> outcomes = config.stages.score(call.prepared());
        if (outcomes.size() != call.decoded().records().size()) {
            throw new IllegalStateException("score stage returned " + outcomes.size() + " outcomes for "
                    + call.decoded().records().size() + " records");
        }
        return new Scored<>(call.decoded(), outcomes);
    }

    /** Encodes the outputs (on the commit thread), then commits them with the offsets on the poll thread. */
    private Mono<Boolean> commit(Scored<K, V, OK, OV> scored) {
        commit.queued();
        return Mono.defer(() -> {
            commit.taken();
            long t0 = System.nanoTime();
            ReceivedBatch<byte[], byte[]> batch = scored.decoded().batch();
            if (halted || scored.outcomes() == null || !batch.isValid()) {
                droppedCalls.increment();
                return Mono.just(false);
            }
            List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>(scored.decoded().deadLetters());
            int dead = out.size();
            for (int i = 0; i < scored.outcomes().size(); i++) {
                ConsumerRecord<byte[], byte[]> source = scored.decoded().sources().get(i);
                switch (scored.outcomes().get(i)) {
                    case Outcome.Produced<OK, OV> produced -> {
                        try {
                            out.addAll(encode(produced.records()));
                        } catch (RuntimeException e) {
                            out.add(deadLetters.of(source, "encode", e));
                            dead++;
                        }
                    }
                    case Outcome.Failed<OK, OV> failed -> {
                        out.add(deadLetters.of(source, "process", failed.error()));
                        dead++;
                    }
                }
            }
            int deadLettered = dead;
            return receiver.commit(batch, (offsets, group) -> transact(out, offsets, group, batch.records().size(), deadLettered))
                    .doOnNext(committed -> {
                        if (!committed) droppedCalls.increment();
                    })
                    .doFinally(_ -> commit.busyFor(System.nanoTime() - t0));
        }).subscribeOn(commitThread);
    }

    /** All of a record's outputs are encoded first: a bad one makes the record a dead letter, not half its outputs. */
    private List<ProducerRecord<byte[], byte[]>> encode(List<ProducerRecord<OK, OV>> records) {
        List<ProducerRecord<byte[], byte[]>> encoded = new ArrayList<>(records.size());
        for (ProducerRecord<OK, OV> record : records) {
            byte[] key = record.key() == null ? null : config.keySerializer.serialize(record.topic(), record.headers(), record.key());
            byte[] value = record.value() == null ? null : config.valueSerializer.serialize(record.topic(), record.headers(), record.value());
            encoded.add(new ProducerRecord<>(record.topic(), record.partition(), record.timestamp(), key, value, record.headers()));
        }
        return encoded;
    }

    /**
     * Poll thread: one transaction with the call's outputs and offsets; false if it aborted (the call is read again)
     * or the pipeline was halted (then the transaction is left as it is, neither committed nor aborted).
     */
    private boolean transact(List<ProducerRecord<byte[], byte[]>> out, Map<TopicPartition, OffsetAndMetadata> offsets,
                             ConsumerGroupMetadata group, int records, int dead) {
        if (halted) {
            return false;
        }
        try {
            producer.beginTransaction();
            out.forEach(producer::send); // a failed send makes commitTransaction throw, which aborts the call
            producer.sendOffsetsToTransaction(offsets, group);
            producer.commitTransaction();
        } catch (RuntimeException e) {
            if (halted) { // the producer was closed under this transaction: as a killed process, leave it open
                log.debug("pipeline {}: halted during a transaction: {}", config.workerId, e.toString());
                return false;
            }
            if (fatal(e)) {
                throw e;
            }
            log.warn("pipeline {}: transaction aborted, re-reading the call: {}", config.workerId, e.toString());
            producer.abortTransaction();
            abortedCalls.increment();
            return false;
        }
        committedCalls.increment();
        recordsOk.increment(records - dead);
        recordsDead.increment(dead);
        config.commitListener.committed(records, out.size() - dead, dead);
        return true;
    }

    /** Another instance owns this transactional id, the cluster refuses us, or not Kafka's error at all: stop. */
    private static boolean fatal(RuntimeException e) {
        return !(e instanceof KafkaException) || e instanceof ProducerFencedException || e instanceof InvalidProducerEpochException
                || e instanceof OutOfOrderSequenceException || e instanceof AuthorizationException
                || e instanceof UnsupportedVersionException;
    }

    /** Why the pipeline stopped on its own, if it did. */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure);
    }

    /** The partitions held as of the latest rebalance: empty until the consumer has joined the group. */
    public Set<TopicPartition> assignment() {
        return receiver.assignment();
    }

    /** The prepare → score stages (their meters: prepared calls held, busy time). */
    public StagedCalls stagedCalls() {
        return calls;
    }

    /** The poll stage (for tests: its unmet demand says whether backpressure reached Kafka). */
    KafkaReceiver<byte[], byte[]> receiver() {
        return receiver;
    }

    public boolean isRunning() {
        return terminated.getCount() > 0;
    }

    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        return terminated.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Graceful stop: polls no more, scores and commits the calls in flight, then leaves the group. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            if (subscription == null) { // never started: release the clients here
                shutDown();
                return;
            }
        }
        receiver.stopReceiving();
        try {
            terminated.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Stops at once as if the process had died (for tests of exactly-once): the open transaction, if any, is neither
     * committed nor aborted, the sends buffered for it are dropped, and the consumer closes without leaving the group;
     * no call in flight goes on to another stage, and none is committed. A successor with the same worker id (so the
     * same {@code transactional.id}) aborts what was left open and reads those calls again.
     *
     * <p>Callable from any thread, a stage's own included (e.g. from inside the score stage): it does not wait for the
     * call being scored, which runs to its end and is dropped; {@link #awaitTermination} says when the threads are
     * done. Once it returns, this pipeline's producer sends nothing more.
     */
    public void halt() {
        boolean running;
        synchronized (this) {
            if (halted) {
                return;
            }
            halted = true;
            closed = true;
            running = subscription != null;
        }
        log.debug("pipeline {}: halting", config.workerId);
        closeProducer(Duration.ZERO); // drops what is buffered; a transaction in progress fails on the poll thread
        receiver.halt();
        if (!running) { // never started: release the rest here
            shutDown();
        }
    }

    /** After the last commit (or a failure, or a halt): leave the group, release the clients and threads. */
    private void shutDown() {
        try {
            receiver.close();
            producerMetrics.close();
            closeProducer(Duration.ofSeconds(10));
            calls.close();
            decode.close();
            commit.close();
            commitThread.dispose();
        } finally {
            terminated.countDown();
        }
    }

    /** Once: gracefully (sends and an abort in progress complete within {@code timeout}), or at once when halting. */
    private void closeProducer(Duration timeout) {
        synchronized (this) {
            if (producerClosed) {
                return;
            }
            producerClosed = true;
        }
        try {
            producer.close(timeout);
        } catch (RuntimeException e) {
            log.warn("pipeline {}: producer close: {}", config.workerId, e.toString());
        }
    }

    private final class Rebalance implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            log.debug("pipeline {}: revoked {}", config.workerId, Partitions.compact(partitions));
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            log.debug("pipeline {}: lost {}", config.workerId, Partitions.compact(partitions));
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            log.debug("pipeline {}: assigned {}", config.workerId, Partitions.compact(partitions));
        }
    }

    /** Options of a {@link TransactionalPipeline}; group, worker id, input, output and stages are required. */
    public static final class Builder<K, V, P, OK, OV> {
        private final KafkaSettings settings;
        private String groupId;
        private String workerId;
        private List<String> topics = List.of();
        private Deserializer<K> keyDeserializer;
        private Deserializer<V> valueDeserializer;
        private Serializer<OK> keySerializer;
        private Serializer<OV> valueSerializer;
        private Stages<K, V, P, OK, OV> stages;
        private String deadLetterTopic = Topics.DEAD;
        private int maxPollRecords = 100;
        private StagedCalls.Settings stagedCalls = StagedCalls.Settings.defaults();
        private Map<String, Object> consumerOverrides = Map.of();
        private Map<String, Object> producerOverrides = Map.of();
        private MeterRegistry registry = Metrics.globalRegistry;
        private CommitListener commitListener = (records, outputs, dead) -> {};

        private Builder(KafkaSettings settings) {
            this.settings = Objects.requireNonNull(settings, "settings");
        }

        public Builder<K, V, P, OK, OV> groupId(String id) { this.groupId = id; return this; }

        /** Stable across restarts of the same worker: it names the transactional id and the static member. */
        public Builder<K, V, P, OK, OV> workerId(String id) { this.workerId = id; return this; }

        public Builder<K, V, P, OK, OV> input(Collection<String> inputTopics, Deserializer<K> keys, Deserializer<V> values) {
            this.topics = List.copyOf(inputTopics);
            this.keyDeserializer = keys;
            this.valueDeserializer = values;
            return this;
        }

        public Builder<K, V, P, OK, OV> output(Serializer<OK> keys, Serializer<OV> values) {
            this.keySerializer = keys;
            this.valueSerializer = values;
            return this;
        }

        public Builder<K, V, P, OK, OV> stages(Stages<K, V, P, OK, OV> s) { this.stages = s; return this; }

        public Builder<K, V, P, OK, OV> deadLetterTopic(String topic) { this.deadLetterTopic = topic; return this; }

        /** Records per poll, i.e. per call and per transaction, at most. */
        public Builder<K, V, P, OK, OV> maxPollRecords(int records) { this.maxPollRecords = records; return this; }

        /** Prefetch (prepared calls at most waiting for the score stage) and prepare threads. */
        public Builder<K, V, P, OK, OV> stagedCalls(StagedCalls.Settings s) { this.stagedCalls = s; return this; }

        public Builder<K, V, P, OK, OV> consumerOverrides(Map<String, Object> overrides) { this.consumerOverrides = Map.copyOf(overrides); return this; }

        public Builder<K, V, P, OK, OV> producerOverrides(Map<String, Object> overrides) { this.producerOverrides = Map.copyOf(overrides); return this; }

        public Builder<K, V, P, OK, OV> meterRegistry(MeterRegistry meters) { this.registry = meters; return this; }

        public Builder<K, V, P, OK, OV> onCommit(CommitListener listener) { this.commitListener = listener; return this; }

        public TransactionalPipeline<K, V, P, OK, OV> build() {
            require(groupId != null && !groupId.isBlank(), "group id");
            require(workerId != null && !workerId.isBlank(), "worker id");
            require(!topics.isEmpty() && keyDeserializer != null && valueDeserializer != null, "input topics and deserializers");
            require(keySerializer != null && valueSerializer != null, "output serializers");
            require(stages != null, "stages");
            require(maxPollRecords >= 1, "max poll records >= 1");
            return new TransactionalPipeline<>(this);
        }

        private static void require(boolean ok, String what) {
            if (!ok) {
                throw new IllegalArgumentException("transactional pipeline: " + what + " required");
            }
        }
    }
}
