package dkv.platform.kafka;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
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
 * <p>Reads {@code read_committed} and starts new groups at the earliest offset unless the pass-through
 * properties set {@code isolation.level} / {@code auto.offset.reset}. A record the deserializers reject
 * ends the stream with Kafka's {@code RecordDeserializationException} (it names partition and offset).
 */
public final class KafkaReceiver<K, V> {
    private static final Logger log = LoggerFactory.getLogger(KafkaReceiver.class);

    private final ReceiverOptions<K, V> options;
    private final AtomicBoolean subscribed = new AtomicBoolean();
    private final AtomicInteger queued = new AtomicInteger();

    private KafkaReceiver(ReceiverOptions<K, V> options) {
        this.options = options;
    }

    public static <K, V> KafkaReceiver<K, V> create(ReceiverOptions<K, V> options) {
        return new KafkaReceiver<>(options);
    }

    /** The records, acknowledged by the subscriber with {@link ReceivedRecord#ack()}. Subscribe once. */
    public Flux<ReceivedRecord<K, V>> receive() {
        return Flux.create(sink -> {
            if (!subscribed.compareAndSet(false, true)) {
                sink.error(new IllegalStateException("a KafkaReceiver supports one subscription (group " + options.groupId() + ")"));
                return;
            }
            PollLoop loop = new PollLoop(sink);
            sink.onRequest(loop::request);
            sink.onDispose(loop::stop);
            Thread.ofPlatform().name("dkv-receiver-" + options.groupId()).daemon(true).start(loop);
        }, FluxSink.OverflowStrategy.ERROR);
    }

    /** Records fetched from Kafka but not yet emitted (for gauges and tests). */
    public int queued() {
        return queued.get();
    }

    private final class PollLoop implements Runnable, ConsumerRebalanceListener {
        private final FluxSink<ReceivedRecord<K, V>> sink;
        private final AtomicLong demand = new AtomicLong();
        private final ArrayDeque<ReceivedRecord<K, V>> pending = new ArrayDeque<>();
        private final Map<TopicPartition, OffsetTracker> trackers = new HashMap<>();
        private final AtomicBoolean waitingForDemand = new AtomicBoolean();
        private volatile boolean stopping;
        private volatile Consumer<K, V> consumer;
        private long lastCommitNanos = System.nanoTime();

        PollLoop(FluxSink<ReceivedRecord<K, V>> sink) {
            this.sink = sink;
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
            try (Consumer<K, V> c = new KafkaConsumer<>(
                    options.settings().consumer(options.groupId(), "receiver", overrides),
                    options.keyDeserializer(), options.valueDeserializer())) {
                consumer = c;
                if (stopping) {
                    return;
                }
                c.subscribe(options.topics(), this);
                while (!stopping) {
                    emitAgainstDemand();
                    Duration timeout = options.pollTimeout();
                    if (pending.isEmpty() && demand.get() > 0) {
                        c.resume(c.paused());
                    } else {
                        c.pause(c.assignment());
                        waitingForDemand.set(true);
                        if (demand.get() > 0 && waitingForDemand.compareAndSet(true, false)) {
                            timeout = Duration.ZERO; // demand arrived between the check and the flag
                        }
                    }
                    try {
                        enqueue(c.poll(timeout));
                    } catch (WakeupException e) {
                        // stop() or new demand woke us: the loop decides what is next
                    } finally {
                        waitingForDemand.set(false);
                    }
                    if (System.nanoTime() - lastCommitNanos >= options.commitInterval().toNanos()) {
                        commitAsync(c);
                    }
                }
                commitSync(c, trackers.keySet());
                sink.complete();
            } catch (Throwable e) {
                log.error("receiver of group {} failed", options.groupId(), e);
                sink.error(e);
            } finally {
                pending.clear();
                queued.set(0);
            }
        }

        private void defaultUnlessConfigured(Map<String, Object> overrides, String key, Object value) {
            if (!options.settings().properties().containsKey(key)) {
                overrides.putIfAbsent(key, value);
            }
        }

        private void enqueue(ConsumerRecords<K, V> records) {
            for (ConsumerRecord<K, V> record : records) {
                OffsetTracker tracker = trackers.computeIfAbsent(
                        new TopicPartition(record.topic(), record.partition()), tp -> new OffsetTracker());
                tracker.register(record.offset());
                pending.add(new ReceivedRecord<>(record, tracker));
            }
            queued.set(pending.size());
        }

        private void emitAgainstDemand() {
            while (!pending.isEmpty() && demand.get() > 0 && !sink.isCancelled()) {
                demand.decrementAndGet();
                sink.next(pending.poll());
            }
            queued.set(pending.size());
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

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            try {
                commitSync(consumer, partitions);
            } catch (RuntimeException e) {
                log.warn("receiver of group {}: commit on revocation failed: {}", options.groupId(), e.toString());
            }
            forget(partitions);
            options.listener().onPartitionsRevoked(partitions);
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            forget(partitions);
            options.listener().onPartitionsLost(partitions);
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            options.listener().onPartitionsAssigned(partitions);
        }

        /** Drops a partition's queued records and tracker; acks of records already emitted become no-ops. */
        private void forget(Collection<TopicPartition> partitions) {
            for (TopicPartition tp : partitions) {
                trackers.remove(tp);
            }
            pending.removeIf(r -> partitions.contains(new TopicPartition(r.record().topic(), r.record().partition())));
            queued.set(pending.size());
        }
    }
}
