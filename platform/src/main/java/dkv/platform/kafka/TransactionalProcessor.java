package dkv.platform.kafka;

import dkv.platform.config.KafkaSettings;
import dkv.schemas.Topics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
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
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Exactly-once consume → process → produce: each polled batch is processed into output records (or dead
 * letters), and the outputs and the batch's consumed offsets are committed in one Kafka transaction
 * ({@code sendOffsetsToTransaction} with the consumer's group metadata). A worker killed mid-batch leaves
 * an open transaction that its successor — same worker id, hence same {@code transactional.id} — aborts
 * on start-up, and the batch is consumed again from the last committed offsets; {@code read_committed}
 * readers see every output once.
 *
 * <p>Threads: one poll thread owns the consumer and the transaction boundaries; processing runs on a
 * separate worker thread, while the poll thread keeps polling with every partition paused, so a batch
 * slower than {@code max.poll.interval.ms} does not cost the group membership. On revocation of a
 * partition that the running batch read from, the poll thread waits for the batch and commits it before
 * the partition moves; on loss it aborts. Static membership ({@code group.instance.id} = worker id) lets a
 * restarted worker take its partitions straight back; cooperative-sticky assignment moves only the
 * partitions that must move.
 *
 * <p>Errors: a record that cannot be decoded, or whose {@link RecordFunction} throws, becomes a
 * {@code dkv.avro.DeadLetter} in the same transaction. A {@link BatchFunction} that throws, a fenced
 * producer, or any other non-abortable error stops the processor ({@link #failure()}); abortable errors
 * (e.g. a rebalance invalidating the offsets) abort the transaction and re-read the batch.
 */
public final class TransactionalProcessor<K, V, OK, OV> implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TransactionalProcessor.class);

    /** Processes one record into its outputs; an exception sends the record to the dead-letter topic. */
    @FunctionalInterface
    public interface RecordFunction<K, V, OK, OV> {
        List<ProducerRecord<OK, OV>> apply(ConsumerRecord<K, V> record) throws Exception;
    }

    /**
     * Processes a whole batch at once (e.g. to batch GPU work across records): one outcome per input, in
     * input order. An exception stops the processor: it means the batch could not be attempted at all.
     */
    @FunctionalInterface
    public interface BatchFunction<K, V, OK, OV> {
        List<Outcome<OK, OV>> apply(List<ConsumerRecord<K, V>> batch);
    }

    /** Told after each committed transaction; runs on the poll thread, so keep it quick. */
    @FunctionalInterface
    public interface CommitListener {
        void committed(int records, int outputs, int deadLetters);
    }

    private final Builder<K, V, OK, OV> config;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final KafkaProducer<byte[], byte[]> producer;
    private final DeadLetters deadLetters;
    private final ExecutorService worker;
    private final Thread pollThread;
    private final CountDownLatch terminated = new CountDownLatch(1);
    private final Counter recordsOk;
    private final Counter recordsDead;
    private final Counter committedTransactions;
    private final Counter abortedTransactions;
    private final Timer batchTimer;
    private final KafkaClientMetrics consumerMetrics;
    private final KafkaClientMetrics producerMetrics;
    private volatile Thread workerThread;
    private boolean started; // guarded by this
    private volatile boolean stopRequested;
    private volatile boolean halted;
    private volatile Throwable failure;
    private Batch inFlight; // poll thread only
    private volatile Set<TopicPartition> held = Set.of(); // written on the poll thread, in rebalance callbacks

    /** A batch being processed: where each partition starts (to re-read it) and where it ends (to commit). */
    private record Batch(Map<TopicPartition, Long> firstOffsets, Map<TopicPartition, OffsetAndMetadata> nextOffsets,
            Future<BatchResult> work, long startNanos) {}

    private record BatchResult(int records, int outputs, int deadLetters) {}

    private TransactionalProcessor(Builder<K, V, OK, OV> config) {
        this.config = config;
        Map<String, Object> consumerOverrides = new HashMap<>();
        consumerOverrides.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        consumerOverrides.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        consumerOverrides.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, config.maxPollRecords);
        consumerOverrides.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, CooperativeStickyAssignor.class.getName());
        if (config.staticMembership) {
            consumerOverrides.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, config.workerId);
        }
        consumerOverrides.putAll(config.consumerOverrides);
        Map<String, Object> producerOverrides = new HashMap<>();
        producerOverrides.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId(config.groupId, config.workerId));
        producerOverrides.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        producerOverrides.put(ProducerConfig.ACKS_CONFIG, "all");
        producerOverrides.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        producerOverrides.putAll(config.producerOverrides);
        this.consumer = new KafkaConsumer<>(config.settings.consumer(config.groupId, config.workerId, consumerOverrides),
                new ByteArrayDeserializer(), new ByteArrayDeserializer());
        this.producer = new KafkaProducer<>(config.settings.producer(config.workerId, producerOverrides),
                new ByteArraySerializer(), new ByteArraySerializer());
        this.deadLetters = new DeadLetters(config.deadLetterTopic, config.workerId);
        this.worker = Executors.newSingleThreadExecutor(r -> workerThread = Thread.ofPlatform()
                .name("dkv-processor-work-" + config.workerId).daemon(true).unstarted(r));
        this.pollThread = Thread.ofPlatform().name("dkv-processor-poll-" + config.workerId).daemon(true).unstarted(this::run);
        MeterRegistry registry = config.registry;
        String group = config.groupId;
        this.recordsOk = Counter.builder("dkv.processor.records").tag("group", group).tag("outcome", "processed").register(registry);
        this.recordsDead = Counter.builder("dkv.processor.records").tag("group", group).tag("outcome", "dead_letter").register(registry);
        this.committedTransactions = Counter.builder("dkv.processor.transactions").tag("group", group).tag("result", "committed").register(registry);
        this.abortedTransactions = Counter.builder("dkv.processor.transactions").tag("group", group).tag("result", "aborted").register(registry);
        this.batchTimer = Timer.builder("dkv.processor.batch").tag("group", group).register(registry);
        // the clients' own metrics (lag, fetch and produce rates, transaction times) next to dkv's
        this.consumerMetrics = new KafkaClientMetrics(consumer);
        this.producerMetrics = new KafkaClientMetrics(producer);
        consumerMetrics.bindTo(registry);
        producerMetrics.bindTo(registry);
    }

    /** The transactional id is stable per worker, so a restarted worker fences its dead predecessor. */
    public static String transactionalId(String groupId, String workerId) {
        return groupId + "/" + workerId;
    }

    public static <K, V, OK, OV> Builder<K, V, OK, OV> builder(KafkaSettings settings) {
        return new Builder<>(settings);
    }

    /** Starts polling on its own thread and returns. */
    public synchronized TransactionalProcessor<K, V, OK, OV> start() {
        if (started) {
            throw new IllegalStateException("processor " + config.workerId + " already started");
        }
        started = true;
        pollThread.start();
        return this;
    }

    /** Why the processor stopped on its own, if it did. */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure);
    }

    /** The partitions this processor holds as of its latest rebalance: empty until its consumer has joined the group. */
    public Set<TopicPartition> assignment() {
        return held;
    }

    public boolean isRunning() {
        return terminated.getCount() > 0 && pollThread.isAlive();
    }

    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        return terminated.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Graceful stop: finishes and commits the batch in progress, then leaves the group. */
    @Override
    public void close() {
        stopRequested = true;
        consumer.wakeup();
        awaitQuietly();
    }

    /**
     * Stops at once as if the process had died: the open transaction is neither committed nor aborted and
     * buffered sends are dropped. Its successor (same worker id) aborts the transaction when it starts.
     */
    public void halt() {
        halted = true;
        consumer.wakeup();
        if (Thread.currentThread() != pollThread && Thread.currentThread() != workerThread) {
            awaitQuietly();
        }
    }

    private void awaitQuietly() {
        synchronized (this) {
            if (!started) { // nothing runs: release the clients here
                started = true;
                shutDownGracefully();
                terminated.countDown();
                return;
            }
        }
        try {
            terminated.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        try {
            producer.initTransactions();
            consumer.subscribe(config.topics, new Rebalance());
            while (!stopRequested && !halted) {
                try {
                    step();
                } catch (WakeupException e) {
                    // close() or halt(): the loop condition decides
                }
            }
            if (halted) {
                dieAbruptly();
                return;
            }
            if (inFlight != null) {
                finish(inFlight);
            }
            shutDownGracefully();
        } catch (Throwable e) {
            failure = e;
            log.error("processor {} of group {} stopped", config.workerId, config.groupId, e);
            abortQuietly();
            shutDownGracefully();
        } finally {
            terminated.countDown();
        }
    }

    private void step() throws InterruptedException {
        if (inFlight == null) {
            consumer.resume(consumer.paused());
            ConsumerRecords<byte[], byte[]> records = consumer.poll(config.pollTimeout);
            if (!records.isEmpty() && !halted && !stopRequested) {
                consumer.pause(consumer.assignment());
                inFlight = begin(records);
            } else if (!records.isEmpty()) {
                rewind(records);
            }
            return;
        }
        try {
            inFlight.work().get(config.pollTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            // still running, or failed: finish() reports the failure
        }
        // keeps the poll timer and heartbeats going; paused partitions return nothing
        ConsumerRecords<byte[], byte[]> unexpected = consumer.poll(Duration.ZERO);
        if (!unexpected.isEmpty()) {
            rewind(unexpected);
        }
        if (inFlight != null && inFlight.work().isDone() && !halted) {
            Batch batch = inFlight;
            finish(batch);
        }
    }

    private Batch begin(ConsumerRecords<byte[], byte[]> records) {
        Map<TopicPartition, Long> first = new HashMap<>();
        Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
        List<ConsumerRecord<byte[], byte[]>> batch = new ArrayList<>(records.count());
        for (ConsumerRecord<byte[], byte[]> record : records) {
            TopicPartition tp = new TopicPartition(record.topic(), record.partition());
            first.putIfAbsent(tp, record.offset());
            next.put(tp, new OffsetAndMetadata(record.offset() + 1));
            batch.add(record);
        }
        producer.beginTransaction();
        return new Batch(first, next, worker.submit(() -> process(batch)), System.nanoTime());
    }

    /** Worker thread: decodes, processes and sends into the open transaction. */
    private BatchResult process(List<ConsumerRecord<byte[], byte[]>> batch) {
        int outputs = 0;
        int dead = 0;
        List<ConsumerRecord<byte[], byte[]>> decodedSources = new ArrayList<>();
        List<ConsumerRecord<K, V>> decoded = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> raw : batch) {
            try {
                decoded.add(decode(raw));
                decodedSources.add(raw);
            } catch (RuntimeException e) {
                send(deadLetters.of(raw, "decode", e));
                dead++;
            }
        }
        if (config.recordFunction != null) {
            for (int i = 0; i < decoded.size() && !halted; i++) {
                try {
                    outputs += sendAll(config.recordFunction.apply(decoded.get(i)));
                } catch (Exception e) {
                    send(deadLetters.of(decodedSources.get(i), "process", e));
                    dead++;
                }
            }
        } else {
            List<Outcome<OK, OV>> outcomes = config.batchFunction.apply(List.copyOf(decoded));
            if (outcomes.size() != decoded.size()) {
                throw new IllegalStateException("batch function returned " + outcomes.size() + " outcomes for " + decoded.size() + " records");
            }
            for (int i = 0; i < outcomes.size() && !halted; i++) {
                switch (outcomes.get(i)) {
                    case Outcome.Produced<OK, OV> produced -> outputs += sendAll(produced.records());
                    case Outcome.Failed<OK, OV> failed -> {
                        send(deadLetters.of(decodedSources.get(i), "process", failed.error()));
                        dead++;
                    }
                }
            }
        }
        return new BatchResult(batch.size(), outputs, dead);
    }

    private ConsumerRecord<K, V> decode(ConsumerRecord<byte[], byte[]> raw) {
        K key = raw.key() == null ? null : config.keyDeserializer.deserialize(raw.topic(), raw.headers(), raw.key());
        V value = raw.value() == null ? null : config.valueDeserializer.deserialize(raw.topic(), raw.headers(), raw.value());
        return new ConsumerRecord<>(raw.topic(), raw.partition(), raw.offset(), raw.timestamp(), raw.timestampType(),
                raw.serializedKeySize(), raw.serializedValueSize(), key, value, raw.headers(), raw.leaderEpoch());
    }

    private int sendAll(List<ProducerRecord<OK, OV>> records) {
        List<ProducerRecord<byte[], byte[]>> encoded = new ArrayList<>(records.size());
        for (ProducerRecord<OK, OV> record : records) { // encode all first: a bad output fails the whole record
            byte[] key = record.key() == null ? null : config.keySerializer.serialize(record.topic(), record.headers(), record.key());
            byte[] value = record.value() == null ? null : config.valueSerializer.serialize(record.topic(), record.headers(), record.value());
            encoded.add(new ProducerRecord<>(record.topic(), record.partition(), record.timestamp(), key, value, record.headers()));
        }
        encoded.forEach(this::send);
        return encoded.size();
    }

    private void send(ProducerRecord<byte[], byte[]> record) {
        // a failed send makes commitTransaction throw, which aborts the batch: no callback needed here
        producer.send(record);
    }

    /** Poll thread: commits the batch's outputs and offsets together, or aborts and re-reads the batch. */
    private void finish(Batch batch) {
        inFlight = null;
        BatchResult result;
        try {
            result = batch.work().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the batch", e);
        } catch (ExecutionException e) {
            abortQuietly();
            throw new IllegalStateException("batch processing failed: " + e.getCause(), e.getCause());
        }
        try {
            producer.sendOffsetsToTransaction(batch.nextOffsets(), consumer.groupMetadata());
            producer.commitTransaction();
        } catch (ProducerFencedException | InvalidProducerEpochException | OutOfOrderSequenceException
                 | AuthorizationException | UnsupportedVersionException e) {
            throw e; // fatal: another instance owns this transactional id, or the cluster refuses us
        } catch (KafkaException e) {
            log.warn("processor {}: transaction aborted, re-reading the batch: {}", config.workerId, e.toString());
            producer.abortTransaction();
            abortedTransactions.increment();
            rewind(batch.firstOffsets());
            return;
        }
        committedTransactions.increment();
        recordsOk.increment(result.records() - result.deadLetters());
        recordsDead.increment(result.deadLetters());
        batchTimer.record(System.nanoTime() - batch.startNanos(), TimeUnit.NANOSECONDS);
        config.commitListener.committed(result.records(), result.outputs(), result.deadLetters());
    }

    private void rewind(ConsumerRecords<byte[], byte[]> records) {
        Map<TopicPartition, Long> first = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> record : records) {
            first.putIfAbsent(new TopicPartition(record.topic(), record.partition()), record.offset());
        }
        rewind(first);
    }

    private void rewind(Map<TopicPartition, Long> firstOffsets) {
        var assigned = consumer.assignment();
        firstOffsets.forEach((tp, offset) -> {
            if (assigned.contains(tp)) {
                consumer.seek(tp, offset);
            }
        });
    }

    private void abortQuietly() {
        try {
            producer.abortTransaction();
            abortedTransactions.increment();
        } catch (RuntimeException e) {
            log.debug("abort after failure did not complete: {}", e.toString());
        }
    }

    private void shutDownGracefully() {
        worker.shutdownNow();
        consumerMetrics.close();
        producerMetrics.close();
        try {
            producer.close(Duration.ofSeconds(10));
        } catch (RuntimeException e) {
            log.warn("processor {}: producer close: {}", config.workerId, e.toString());
        }
        try {
            consumer.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                    .withTimeout(Duration.ofSeconds(10)));
        } catch (RuntimeException e) {
            log.warn("processor {}: consumer close: {}", config.workerId, e.toString());
        }
    }

    /** As a killed process would: drop the connections, leave the transaction open, keep the membership. */
    private void dieAbruptly() {
        worker.shutdownNow();
        consumerMetrics.close();
        producerMetrics.close();
        producer.close(Duration.ZERO);
        consumer.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.REMAIN_IN_GROUP)
                .withTimeout(Duration.ZERO));
    }

    /** Runs inside poll on the poll thread, so no transaction step runs concurrently. */
    private final class Rebalance implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            held = without(held, partitions);
            log.debug("processor {}: revoked {}", config.workerId, compact(partitions));
            Batch batch = inFlight;
            if (batch != null && !halted && partitions.stream().anyMatch(batch.firstOffsets()::containsKey)) {
                finish(batch); // commit before the partitions move
            }
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            held = without(held, partitions);
            log.debug("processor {}: lost {}", config.workerId, compact(partitions));
            Batch batch = inFlight;
            if (batch != null && partitions.stream().anyMatch(batch.firstOffsets()::containsKey)) {
                inFlight = null;
                try {
                    batch.work().get();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (ExecutionException e) {
                    log.warn("processor {}: batch failed while its partitions were lost: {}", config.workerId, e.getCause().toString());
                }
                producer.abortTransaction(); // the generation is gone: these offsets can no longer be committed
                abortedTransactions.increment();
            }
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            held = Set.copyOf(consumer.assignment());
            log.debug("processor {}: assigned {}", config.workerId, compact(partitions));
            if (inFlight != null) {
                consumer.pause(partitions); // one batch at a time
            }
        }
    }

    private static Set<TopicPartition> without(Set<TopicPartition> from, Collection<TopicPartition> gone) {
        Set<TopicPartition> left = new HashSet<>(from);
        left.removeAll(gone);
        return Set.copyOf(left);
    }

    /** {@code dkv.work[0,5,7]}: one entry per topic, partitions in order, short enough for 24-partition logs. */
    public static String compact(Collection<TopicPartition> partitions) {
        return partitions.stream().collect(Collectors.groupingBy(TopicPartition::topic, TreeMap::new,
                        Collectors.mapping(TopicPartition::partition, Collectors.toCollection(TreeSet::new))))
                .entrySet().stream().map(e -> e.getKey() + e.getValue().toString().replace(" ", "")).collect(Collectors.joining(" "));
    }

    /** Options of a {@link TransactionalProcessor}; {@code groupId}, {@code workerId}, input, output and a function are required. */
    public static final class Builder<K, V, OK, OV> {
        private final KafkaSettings settings;
        private String groupId;
        private String workerId;
        private List<String> topics = List.of();
        private Deserializer<K> keyDeserializer;
        private Deserializer<V> valueDeserializer;
        private Serializer<OK> keySerializer;
        private Serializer<OV> valueSerializer;
        private RecordFunction<K, V, OK, OV> recordFunction;
        private BatchFunction<K, V, OK, OV> batchFunction;
        private String deadLetterTopic = Topics.DEAD;
        private int maxPollRecords = 100;
        private Duration pollTimeout = Duration.ofMillis(100);
        private boolean staticMembership = true;
        private Map<String, Object> consumerOverrides = Map.of();
        private Map<String, Object> producerOverrides = Map.of();
        private MeterRegistry registry = Metrics.globalRegistry;
        private CommitListener commitListener = (records, outputs, dead) -> {};

        private Builder(KafkaSettings settings) {
            this.settings = Objects.requireNonNull(settings, "settings");
        }

        public Builder<K, V, OK, OV> groupId(String id) { this.groupId = id; return this; }

        /** Stable across restarts of the same worker: it names the transactional id and the static member. */
        public Builder<K, V, OK, OV> workerId(String id) { this.workerId = id; return this; }

        public Builder<K, V, OK, OV> input(Collection<String> inputTopics, Deserializer<K> keys, Deserializer<V> values) {
            this.topics = List.copyOf(inputTopics);
            this.keyDeserializer = keys;
            this.valueDeserializer = values;
            return this;
        }

        public Builder<K, V, OK, OV> output(Serializer<OK> keys, Serializer<OV> values) {
            this.keySerializer = keys;
            this.valueSerializer = values;
            return this;
        }

        public Builder<K, V, OK, OV> perRecord(RecordFunction<K, V, OK, OV> function) { this.recordFunction = function; return this; }

        public Builder<K, V, OK, OV> perBatch(BatchFunction<K, V, OK, OV> function) { this.batchFunction = function; return this; }

        public Builder<K, V, OK, OV> deadLetterTopic(String topic) { this.deadLetterTopic = topic; return this; }

        public Builder<K, V, OK, OV> maxPollRecords(int records) { this.maxPollRecords = records; return this; }

        public Builder<K, V, OK, OV> pollTimeout(Duration timeout) { this.pollTimeout = timeout; return this; }

        /** Static membership (default on) keeps a restarting worker's partitions for {@code session.timeout.ms}. */
        public Builder<K, V, OK, OV> staticMembership(boolean enabled) { this.staticMembership = enabled; return this; }

        public Builder<K, V, OK, OV> consumerOverrides(Map<String, Object> overrides) { this.consumerOverrides = Map.copyOf(overrides); return this; }

        public Builder<K, V, OK, OV> producerOverrides(Map<String, Object> overrides) { this.producerOverrides = Map.copyOf(overrides); return this; }

        public Builder<K, V, OK, OV> meterRegistry(MeterRegistry meters) { this.registry = meters; return this; }

        public Builder<K, V, OK, OV> onCommit(CommitListener listener) { this.commitListener = listener; return this; }

        public TransactionalProcessor<K, V, OK, OV> build() {
            require(groupId != null && !groupId.isBlank(), "group id");
            require(workerId != null && !workerId.isBlank(), "worker id");
            require(!topics.isEmpty() && keyDeserializer != null && valueDeserializer != null, "input topics and deserializers");
            require(keySerializer != null && valueSerializer != null, "output serializers");
            require((recordFunction == null) != (batchFunction == null), "exactly one of perRecord or perBatch");
            require(maxPollRecords >= 1, "max poll records >= 1");
            return new TransactionalProcessor<>(this);
        }

        private static void require(boolean ok, String what) {
            if (!ok) {
                throw new IllegalArgumentException("transactional processor: " + what + " required");
            }
        }
    }
}
