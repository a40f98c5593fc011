package dkv.platform.kafka;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;

/**
 * A Kafka consumer as a {@link Flux} whose polling is driven by downstream demand.
 *
 * <p>One dedicated thread owns the {@link KafkaConsumer} (it is not thread-safe). It emits fetched records
 * only against outstanding demand; while none is left it keeps the rest in a queue of at most one poll's
 * worth and pauses every assigned partition — but keeps calling {@code poll}, so a slow subscriber never
 * makes the consumer exceed {@code max.poll.interval.ms} and leave the group. Records held in memory are
 * therefore at most {@code maxPollRecords} plus the subscriber's own prefetch.
 *
 * <p>Offsets are committed from the poll thread: periodically, on revocation (synchronously, before the
 * partitions move) and on close, each partition up to its first unacknowledged record (at-least-once).
 * Cancelling the subscription wakes the consumer, commits and closes it.
 *
 * <p>Two ways to receive. {@link #receive()} hands out records one by one and commits acknowledged offsets itself
 * (at-least-once). {@link #receiveBatches()} hands out each poll as one {@link ReceivedBatch} against demand counted
 * in batches, commits nothing itself, and leaves the commit to the subscriber's {@link #commit}, which runs a
 * {@link TransactionCommit} on the poll thread (exactly-once with a transactional producer). In that mode a
 * rebalance that revokes or loses a partition with records in flight invalidates every batch not yet committed and
 * seeks the partitions this consumer keeps back to their first uncommitted record, so nothing of a moved partition
 * is committed here after it moved, and nothing kept is skipped.
 *
 * <p>Reads {@code read_committed} and starts new groups at the earliest offset unless the pass-through
 * properties set {@code isolation.level} / {@code auto.offset.reset}. A record the deserializers reject
 * ends the stream with Kafka's {@code RecordDeserializationException} (it names partition and offset).
 */
public final class KafkaReceiver<K, V> {
    private static final Logger log = LoggerFactory.getLogger(KafkaReceiver.class);

    private final ReceiverOptions<K, V> options;
    private final AtomicBoolean subscribed = new AtomicBoolean();
    private final AtomicInteger queued = new AtomicInteger();
    private final CountDownLatch ended = new CountDownLatch(1);
    private volatile PollLoop<?> loop;
    private volatile BatchMode batchMode;
    private volatile MeterRegistry clientMetrics;
    private volatile Set<TopicPartition> held = Set.of();

    private KafkaReceiver(ReceiverOptions<K, V> options) {
        this.options = options;
    }

    public static <K, V> KafkaReceiver<K, V> create(ReceiverOptions<K, V> options) {
        return new KafkaReceiver<>(options);
    }

    /** Binds the consumer's own metrics (lag, fetch rates: e.g. {@code records_lag_max}) to {@code registry}; call before subscribing. */
    public KafkaReceiver<K, V> withClientMetrics(MeterRegistry registry) {
        this.clientMetrics = registry;
        return this;
    }

    /** The records, acknowledged by the subscriber with {@link ReceivedRecord#ack()}. Subscribe once. */
    public Flux<ReceivedRecord<K, V>> receive() {
        return start(new RecordMode());
    }

    /**
     * Each poll's records as one batch, one batch per unit of demand, to be committed with {@link #commit} in the
     * order received. The flux completes after {@link #stopReceiving()}; the consumer stays in the group (so that the
     * batches in flight can still commit) until {@link #close()}. Subscribe once.
     */
    public Flux<ReceivedBatch<K, V>> receiveBatches() {
        BatchMode mode = new BatchMode();
        batchMode = mode;
        return start(mode);
    }

    private <T> Flux<T> start(Mode<T> mode) {
        return Flux.create(sink -> {
            if (!subscribed.compareAndSet(false, true)) {
                sink.error(new IllegalStateException("a KafkaReceiver supports one subscription (group " + options.groupId() + ")"));
                return;
            }
            PollLoop<T> l = new PollLoop<>(sink, mode);
            loop = l;
            sink.onRequest(l::request);
            if (mode == batchMode) {
                sink.onCancel(l::stop); // completion is not the end: batches in flight still commit
            } else {
                sink.onDispose(l::stop);
            }
            Thread.ofPlatform().name("dkv-receiver-" + options.groupId()).daemon(true).start(l);
        }, FluxSink.OverflowStrategy.ERROR);
    }

    /**
     * Commits a batch from {@link #receiveBatches()} on the poll thread: runs {@code action} with the batch's offsets
     * and the group metadata unless a rebalance invalidated the batch. Emits true if it committed, false if the batch
     * was refused or the action aborted (then every batch not yet committed is invalidated and read again).
     * Call in the order the batches came.
     */
    public Mono<Boolean> commit(ReceivedBatch<K, V> batch, TransactionCommit action) {
        return Mono.create(sink -> {
            PollLoop<?> l = loop;
            BatchMode batches = batchMode;
            if (l == null || batches == null) {
                sink.error(new IllegalStateException("commit() needs a subscription to receiveBatches()"));
                return;
            }
            l.submit(new PollTask(c -> batches.commit(c, batch, action, sink), sink::error));
        });
    }

    /** Batches: emit no more (the flux completes once the batches already emitted are through); polling goes on. */
    public void stopReceiving() {
        PollLoop<?> l = loop;
        if (l != null) {
            l.drain();
        }
    }

    /** Stops polling and closes the consumer (leaving the group when receiving batches); waits for it. */
    public void close() {
        PollLoop<?> l = loop;
        if (l == null) {
            return;
        }
        l.stop();
        if (Thread.currentThread().getName().startsWith("dkv-receiver-")) {
            return; // the poll thread itself (e.g. from a downstream signal): it ends after this step
        }
        try {
            ended.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Stops polling and closes the consumer as a killed process would: nothing more is committed, and the consumer
     * does not leave the group (a static member's partitions wait for its successor, or for the session to time
     * out). Returns at once; batches not yet committed stay uncommitted. For tests and for a service that halts.
     */
    public void halt() {
        PollLoop<?> l = loop;
        if (l != null) {
            l.halt();
        }
    }

    /** The partitions held as of the latest rebalance: empty until the consumer has joined the group. */
    public Set<TopicPartition> assignment() {
        return held;
    }

    /** Demand the subscriber signalled that the receiver has not met yet (0: it waits for the subscriber). */
    long demand() {
        PollLoop<?> l = loop;
        return l == null ? 0 : l.demand.get();
    }

    /** Records fetched from Kafka but not yet emitted (for gauges and tests). */
    public int queued() {
        return queued.get();
    }

    /** Work for the poll thread (it owns the consumer); {@code abandon} is told if the loop ends first. */
    private record PollTask(java.util.function.Consumer<Consumer<?, ?>> run, java.util.function.Consumer<Throwable> abandon) {}

    /** What differs between record and batch receiving; runs on the poll thread. */
    private abstract class Mode<T> {
        final ArrayDeque<T> pending = new ArrayDeque<>();

        abstract void enqueue(ConsumerRecords<K, V> records);

        /** Records in {@link #pending}. */
        abstract int pendingRecords();

        void emitted(T item) {}

        void afterPoll(Consumer<K, V> c) {}

        abstract void revoked(Consumer<K, V> c, Collection<TopicPartition> partitions);

        abstract void lost(Consumer<K, V> c, Collection<TopicPartition> partitions);

        abstract void close(Consumer<K, V> c);
    }

    /** One record at a time; acknowledged offsets committed periodically, on revocation and on close. */
    private final class RecordMode extends Mode<ReceivedRecord<K, V>> {
        private final Map<TopicPartition, OffsetTracker> trackers = new HashMap<>();
        private long lastCommitNanos = System.nanoTime();

        @Override
        void enqueue(ConsumerRecords<K, V> records) {
            for (ConsumerRecord<K, V> record : records) {
                OffsetTracker tracker = trackers.computeIfAbsent(
                        new TopicPartition(record.topic(), record.partition()), tp -> new OffsetTracker());
                tracker.register(record.offset());
                pending.add(new ReceivedRecord<>(record, tracker));
            }
        }

        @Override
        int pendingRecords() {
            return pending.size();
        }

        @Override
        void afterPoll(Consumer<K, V> c) {
            if (System.nanoTime() - lastCommitNanos >= options.commitInterval().toNanos()) {
                commitAsync(c);
            }
        }

        @Override
        void revoked(Consumer<K, V> c, Collection<TopicPartition> partitions) {
            try {
                commitSync(c, partitions);
            } catch (RuntimeException e) {
                log.warn("receiver of group {}: commit on revocation failed: {}", options.groupId(), e.toString());
            }
            forget(partitions);
        }

        @Override
        void lost(Consumer<K, V> c, Collection<TopicPartition> partitions) {
            forget(partitions);
        }

        @Override
        void close(Consumer<K, V> c) {
            commitSync(c, trackers.keySet());
            c.close();
        }

        private Map<TopicPartition, OffsetAndMetadata> committable(Collection<TopicPartition> partitions) {
            Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
            for (TopicPartition tp : partitions) {
                OffsetTracker tracker = trackers.get(tp);
                if (tracker != null) {
                    tracker.committable().ifPresent(offset -> offsets.put(tp, new OffsetAndMetadata(offset)));
                }
            }
            return offsets;
        }

        private void commitAsync(Consumer<K, V> c) {
            lastCommitNanos = System.nanoTime();
            Map<TopicPartition, OffsetAndMetadata> offsets = committable(trackers.keySet());
            if (offsets.isEmpty()) {
                return;
            }
            c.commitAsync(offsets, (committed, error) -> {
                if (error != null) {
                    log.warn("receiver of group {}: commit failed (will retry): {}", options.groupId(), error.toString());
                } else {
                    committed.forEach((tp, om) -> {
                        OffsetTracker tracker = trackers.get(tp);
                        if (tracker != null) {
                            tracker.committed(om.offset());
                        }
                    });
                }
            });
        }

        private void commitSync(Consumer<K, V> c, Collection<TopicPartition> partitions) {
            Map<TopicPartition, OffsetAndMetadata> offsets = committable(partitions);
            if (offsets.isEmpty()) {
                return;
            }
            try {
                c.commitSync(offsets);
            } catch (WakeupException e) {
                c.commitSync(offsets); // a wakeup meant for poll (stop or demand) landed here; it is now cleared
            }
            offsets.forEach((tp, om) -> trackers.get(tp).committed(om.offset()));
        }

        /** Drops a partition's queued records and tracker; acks of records already emitted become no-ops. */
        private void forget(Collection<TopicPartition> partitions) {
            for (TopicPartition tp : partitions) {
                trackers.remove(tp);
            }
            pending.removeIf(r -> partitions.contains(new TopicPartition(r.record().topic(), r.record().partition())));
        }
    }

    /** One poll per batch; the subscriber commits each through {@link #commit}. */
    private final class BatchMode extends Mode<ReceivedBatch<K, V>> {
        /** Emitted, not yet committed, in order. */
        private final ArrayDeque<ReceivedBatch<K, V>> outstanding = new ArrayDeque<>();

        @Override
        void enqueue(ConsumerRecords<K, V> records) {
            if (!records.isEmpty()) {
                pending.add(new ReceivedBatch<>(records));
            }
        }

        @Override
        int pendingRecords() {
            return pending.stream().mapToInt(b -> b.records().size()).sum();
        }

        @Override
        void emitted(ReceivedBatch<K, V> batch) {
            outstanding.add(batch);
        }

        @Override
        void revoked(Consumer<K, V> c, Collection<TopicPartition> partitions) {
            if (touches(partitions)) {
                rewind(c, partitions);
            }
        }

        @Override
        void lost(Consumer<K, V> c, Collection<TopicPartition> partitions) {
            revoked(c, partitions);
        }

        @Override
        void close(Consumer<K, V> c) {
            c.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                    .withTimeout(Duration.ofSeconds(10)));
        }

        void commit(Consumer<?, ?> c, ReceivedBatch<K, V> batch, TransactionCommit action, MonoSink<Boolean> sink) {
            if (!batch.isValid()) {
                sink.success(false);
                return;
            }
            if (outstanding.peek() != batch) {
                sink.error(new IllegalStateException("batches must be committed in the order they were received"));
                return;
            }
            boolean committed;
            try {
                committed = action.commit(batch.nextOffsets(), c.groupMetadata());
            } catch (RuntimeException e) {
                rewind(c, Set.of());
                sink.error(e);
                return;
            }
            if (committed) {
                outstanding.poll();
            } else {
                rewind(c, Set.of());
            }
            sink.success(committed);
        }

        private boolean touches(Collection<TopicPartition> partitions) {
            return outstanding.stream().anyMatch(b -> partitions.stream().anyMatch(b.partitions()::contains))
                    || pending.stream().anyMatch(b -> partitions.stream().anyMatch(b.partitions()::contains));
        }

        /**
         * Invalidates every batch not yet committed and drops those not yet emitted; the partitions this consumer
         * keeps (all but {@code gone}) are sought back to their first uncommitted record.
         */
        private void rewind(Consumer<?, ?> c, Collection<TopicPartition> gone) {
            Map<TopicPartition, Long> earliest = new HashMap<>();
            for (ReceivedBatch<K, V> b : outstanding) {
                b.invalidate();
                b.firstOffsets().forEach((tp, offset) -> earliest.merge(tp, offset, Math::min));
            }
            for (ReceivedBatch<K, V> b : pending) {
                b.firstOffsets().forEach((tp, offset) -> earliest.merge(tp, offset, Math::min));
            }
            outstanding.clear();
            pending.clear();
            Set<TopicPartition> assigned = c.assignment();
            earliest.forEach((tp, offset) -> {
                if (assigned.contains(tp) && !gone.contains(tp)) {
                    c.seek(tp, offset);
                }
            });
            log.debug("receiver of group {}: uncommitted batches dropped, re-reading from {}", options.groupId(), earliest);
        }
    }

    private final class PollLoop<T> implements Runnable, ConsumerRebalanceListener {
        private final FluxSink<T> sink;
        private final Mode<T> mode;
        private final AtomicLong demand = new AtomicLong();
        private final AtomicBoolean waitingForDemand = new AtomicBoolean();
        private final ConcurrentLinkedQueue<PollTask> tasks = new ConcurrentLinkedQueue<>();
        private volatile boolean stopping;
        private volatile boolean halting;
        private volatile boolean draining;
        private volatile boolean finished;
        private boolean completed;
        private volatile Consumer<K, V> consumer;

        PollLoop(FluxSink<T> sink, Mode<T> mode) {
            this.sink = sink;
            this.mode = mode;
        }

        void request(long n) {
            demand.accumulateAndGet(n, (a, b) -> a + b < 0 ? Long.MAX_VALUE : a + b);
            // a paused poll would otherwise sit out its whole timeout before seeing the new demand
            Consumer<K, V> c = consumer;
            if (c != null && waitingForDemand.compareAndSet(true, false)) {
                c.wakeup();
            }
        }

        void stop() {
            stopping = true;
            wake();
        }

        void drain() {
            draining = true;
            wake();
        }

        void halt() {
            halting = true;
            stop();
        }

        void submit(PollTask task) {
            tasks.add(task);
            if (finished) {
                abandonTasks();
            } else {
                wake();
            }
        }

        private void wake() {
            Consumer<K, V> c = consumer;
            if (c != null) {
                c.wakeup();
            }
        }

        @Override
        public void run() {
            Map<String, Object> overrides = new HashMap<>(options.consumerOverrides());
            overrides.putIfAbsent(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, options.maxPollRecords());
            // dkv's defaults, unless the user's pass-through properties say otherwise: read only committed
            // transactions (scores are produced transactionally) and start new groups at the beginning
            defaultUnlessConfigured(overrides, ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            defaultUnlessConfigured(overrides, ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            Consumer<K, V> c = null;
            KafkaClientMetrics metrics = null;
            try {
                KafkaConsumer<K, V> kafkaConsumer = new KafkaConsumer<>(options.settings().consumer(options.groupId(), "receiver", overrides),
                        options.keyDeserializer(), options.valueDeserializer());
                c = kafkaConsumer;
                consumer = c;
                if (clientMetrics != null) {
                    metrics = new KafkaClientMetrics(kafkaConsumer);
                    metrics.bindTo(clientMetrics);
                }
                if (!stopping) {
                    c.subscribe(options.topics(), this);
                    while (!stopping) {
                        step(c);
                    }
                }
                if (halting) { // as a killed process: no commit, no LeaveGroup, no waiting
                    c.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.REMAIN_IN_GROUP)
                            .withTimeout(Duration.ZERO));
                } else {
                    mode.close(c);
                }
                c = null;
                if (!completed) {
                    sink.complete();
                }
            } catch (Throwable e) {
                log.error("receiver of group {} failed", options.groupId(), e);
                if (c != null) {
                    try {
                        c.close(CloseOptions.timeout(Duration.ZERO));
                    } catch (RuntimeException closing) {
                        log.debug("receiver of group {}: close after failure: {}", options.groupId(), closing.toString());
                    }
                }
                sink.error(e);
            } finally {
                if (metrics != null) {
                    metrics.close();
                }
                mode.pending.clear();
                queued.set(0);
                held = Set.of();
                finished = true;
                abandonTasks();
                ended.countDown();
            }
        }

        private void step(Consumer<K, V> c) {
            runTasks(c);
            if (draining && !completed) {
                mode.pending.clear(); // never emitted, never committed: read again by whoever holds the partitions next
                completed = true;
                sink.complete();
            }
            emitAgainstDemand();
            Duration timeout = options.pollTimeout();
            if (mode.pending.isEmpty() && demand.get() > 0 && !draining) {
                c.resume(c.paused());
            } else {
                c.pause(c.assignment());
                waitingForDemand.set(true);
                if (demand.get() > 0 && !draining && waitingForDemand.compareAndSet(true, false)) {
                    timeout = Duration.ZERO; // demand arrived between the check and the flag
                }
            }
            try {
                if (!tasks.isEmpty()) {
                    timeout = Duration.ZERO;
                }
                ConsumerRecords<K, V> records = c.poll(timeout);
                if (!draining) { // while draining, only a partition assigned within this poll can return records: dropped
                    mode.enqueue(records);
                }
                queued.set(mode.pendingRecords());
            } catch (WakeupException e) {
                // stop(), drain(), a task or new demand woke us: the loop decides what is next
            } finally {
                waitingForDemand.set(false);
            }
            mode.afterPoll(c);
        }

        private void runTasks(Consumer<K, V> c) {
            for (PollTask task = tasks.poll(); task != null; task = tasks.poll()) {
                task.run().accept(c);
            }
        }

        private void abandonTasks() {
            for (PollTask task = tasks.poll(); task != null; task = tasks.poll()) {
                task.abandon().accept(new IllegalStateException("receiver of group " + options.groupId() + " stopped"));
            }
        }

        private void defaultUnlessConfigured(Map<String, Object> overrides, String key, Object value) {
            if (!options.settings().properties().containsKey(key)) {
                overrides.putIfAbsent(key, value);
            }
        }

        private void emitAgainstDemand() {
            while (!mode.pending.isEmpty() && demand.get() > 0 && !sink.isCancelled() && !completed) {
                demand.decrementAndGet();
                T item = mode.pending.poll();
                mode.emitted(item);
                sink.next(item);
            }
            queued.set(mode.pendingRecords());
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            held = without(held, partitions);
            mode.revoked(consumer, partitions);
            queued.set(mode.pendingRecords());
            options.listener().onPartitionsRevoked(partitions);
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            held = without(held, partitions);
            mode.lost(consumer, partitions);
            queued.set(mode.pendingRecords());
            options.listener().onPartitionsLost(partitions);
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            held = Set.copyOf(consumer.assignment());
            options.listener().onPartitionsAssigned(partitions);
        }
    }

    private static Set<TopicPartition> without(Set<TopicPartition> from, Collection<TopicPartition> gone) {
        Set<TopicPartition> left = new HashSet<>(from);
        left.removeAll(gone);
        return Set.copyOf(left);
    }
}
