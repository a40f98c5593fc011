package dkv.aggregator.service;

import dkv.aggregator.web.LiveSnapshots;
import dkv.avro.ScoreRecord;
import dkv.avro.StatsSnapshot;
import dkv.platform.config.KafkaSettings;
import dkv.platform.kafka.KafkaSender;
import dkv.platform.pipeline.StageMeter;
import dkv.schemas.AvroSerde;
import dkv.schemas.Topics;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Metrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * The aggregator service: replays {@code dkv.scores} from the beginning (committed records only), keeps every
 * experiment's state, and on the publish cadence sends each changed experiment's snapshot to {@code dkv.stats}
 * (compacted, keyed by experiment id) and to the live dashboard. It commits no offsets: its state is the log.
 */
public final class AggregatorService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AggregatorService.class);
    private static final Duration POLL = Duration.ofMillis(100);

    private final Aggregator aggregator;
    private final LiveSnapshots live;
    private final TopicReplay scores;
    private final KafkaSender<String, StatsSnapshot> sender;
    private final AvroSerde<ScoreRecord> serde = AvroSerde.of(ScoreRecord.class);
    /** Decoded polls at most waiting for the aggregate stage. */
    private static final int PREFETCH = 2;
    private final Scheduler pollThread;
    private final Scheduler aggregateThread;
    private final StageMeter decodeMeter;
    private final StageMeter aggregateMeter;
    private final StageMeter publishMeter;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final AtomicLong consumed = new AtomicLong();
    private final AtomicLong undecodable = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong published = new AtomicLong();
    private volatile boolean running = true;
    private volatile boolean caughtUp;

    private final String statsTopic;
    private final List<Meter> meters;

    private AggregatorService(KafkaSettings settings, String scoresTopic, String statsTopic, PublishCadence cadence,
                              double alpha, LiveSnapshots live) {
        this.aggregator = new Aggregator(cadence, alpha, System::currentTimeMillis);
        this.live = live;
        this.statsTopic = statsTopic;
        this.scores = new TopicReplay(settings, scoresTopic, "aggregator");
        this.sender = KafkaSender.create(settings, "aggregator-stats", new StringSerializer(),
                AvroSerde.of(StatsSnapshot.class));
        this.pollThread = Schedulers.newSingle("dkv-aggregator-poll", true);
        this.aggregateThread = Schedulers.newSingle("dkv-aggregator", true);
        this.decodeMeter = new StageMeter(Metrics.globalRegistry, "aggregator", "decode");
        this.aggregateMeter = new StageMeter(Metrics.globalRegistry, "aggregator", "aggregate");
        this.publishMeter = new StageMeter(Metrics.globalRegistry, "aggregator", "publish");
        meters = List.of(
                counter("dkv.aggregator.records.consumed", "records read from the scores topic", consumed),
                counter("dkv.aggregator.records.undecodable", "records that are not ScoreRecords", undecodable),
                counter("dkv.aggregator.records.rejected", "scores the state refused (e.g. NaN NLL)", rejected),
                FunctionCounter.builder("dkv.aggregator.records.other.plan", aggregator, Aggregator::recordsOfOtherPlans)
                        .description("scores refused: another plan hash than their experiment started with")
                        .register(Metrics.globalRegistry),
                counter("dkv.aggregator.snapshots.published", "snapshots sent to the stats topic", published),
                Gauge.builder("dkv.aggregator.caught.up", this, s -> s.caughtUp ? 1 : 0)
                        .description("1 once the replay reached the end the scores topic had at start")
                        .register(Metrics.globalRegistry));
    }

    /** Counters read from the service's own atomics; scraped by the platform's Prometheus endpoint. */
    private static Meter counter(String name, String description, AtomicLong value) {
        return FunctionCounter.builder(name, value, AtomicLong::get).description(description)
                .register(Metrics.globalRegistry);
    }

    /** Reads {@link Topics#SCORES}, writes {@link Topics#STATS}. */
    public static AggregatorService start(KafkaSettings settings, PublishCadence cadence, double alpha, LiveSnapshots live) {
        return start(settings, Topics.SCORES, Topics.STATS, cadence, alpha, live);
    }

    public static AggregatorService start(KafkaSettings settings, String scoresTopic, String statsTopic,
                                          PublishCadence cadence, double alpha, LiveSnapshots live) {
        AggregatorService service = new AggregatorService(settings, scoresTopic, statsTopic, cadence, alpha, live);
        service.start();
        return service;
    }

    /**
     * The service as a Reactor pipeline of named stages (docs/architecture.md "Service pipelines"): poll (one
     * {@code poll} per unit of demand, on the thread that owns the consumer) → decode (same thread) → aggregate
     * (the state's one thread, at most {@link #PREFETCH} decoded polls waiting) → publish (stats topic and dashboard).
     */
    private void start() {
        Flux.<Polled>generate(sink -> {
                    if (!running) {
                        sink.complete();
                        return;
                    }
                    try {
                        ConsumerRecords<String, byte[]> records = scores.poll(POLL);
                        sink.next(new Polled(records, scores.caughtUp()));
                    } catch (WakeupException e) {
                        if (running) {
                            sink.error(e);
                        } else {
                            sink.complete();
                        }
                    }
                })
                .subscribeOn(pollThread)
                .map(polled -> decodeStage(polled))
                .doOnNext(_ -> aggregateMeter.queued())
                .publishOn(aggregateThread, PREFETCH)
                .doOnNext(decoded -> {
                    aggregateMeter.taken();
                    aggregate(decoded);
                })
                .doOnError(e -> log.error("aggregator stopped: {}", e.toString(), e))
                .doFinally(_ -> finish())
                .subscribe(_ -> {}, _ -> {});
    }

    /** Polled records and whether the replay had then reached the end the topic had at start. */
    private record Polled(ConsumerRecords<String, byte[]> records, boolean caughtUp) {}

    /** Decoded scores with their records (for the offsets a refusal logs). */
    private record Decoded(List<ConsumerRecord<String, byte[]>> records, List<ScoreRecord> scores, boolean caughtUp) {}

    private Decoded decodeStage(Polled polled) {
        long t0 = System.nanoTime();
        List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
        List<ScoreRecord> decoded = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> record : polled.records()) {
            consumed.incrementAndGet();
            ScoreRecord score = decode(record);
            if (score != null) {
                records.add(record);
                decoded.add(score);
            }
        }
        decodeMeter.busyFor(System.nanoTime() - t0);
        return new Decoded(records, decoded, polled.caughtUp());
    }

    /** The aggregate and publish stages, on the state's thread. */
    private void aggregate(Decoded decoded) {
        long t0 = System.nanoTime();
        List<StatsSnapshot> due = new ArrayList<>();
        for (int i = 0; i < decoded.scores().size(); i++) {
            due.addAll(accept(decoded.records().get(i), decoded.scores().get(i)));
        }
        due.addAll(aggregator.publishIfDue());
        aggregateMeter.busyFor(System.nanoTime() - t0);
        long t1 = System.nanoTime();
        publish(due);
        publishMeter.busyFor(System.nanoTime() - t1);
        if (!caughtUp && decoded.caughtUp()) {
            caughtUp = true;
            log.info("aggregator caught up with {} after {} records", scores.topic(), consumed.get());
        }
    }

    private void finish() {
        try {
            publish(aggregator.publish());
        } catch (RuntimeException e) {
            log.warn("last publication failed: {}", e.toString());
        }
        scores.close();
        stopped.countDown();
    }

    /** A score the state refuses (e.g. a NaN NLL) is skipped with its offset logged, never fatal. */
    private List<StatsSnapshot> accept(ConsumerRecord<String, byte[]> record, ScoreRecord score) {
        try {
            return aggregator.accept(score);
        } catch (IllegalArgumentException e) {
            if (rejected.incrementAndGet() <= 10) {
                log.warn("{}-{}@{}: score rejected: {}", record.topic(), record.partition(), record.offset(),
                        e.getMessage());
            }
            return List.of();
        }
    }

    private ScoreRecord decode(ConsumerRecord<String, byte[]> record) {
        try {
            return serde.decode(record.value());
        } catch (RuntimeException e) {
            if (undecodable.incrementAndGet() <= 10) {
                log.warn("{}-{}@{}: not a ScoreRecord, skipped: {}", record.topic(), record.partition(),
                        record.offset(), e.getMessage());
            }
            return null;
        }
    }

    private void publish(List<StatsSnapshot> snapshots) {
        for (StatsSnapshot snapshot : snapshots) {
            live.publish(snapshot);
            sender.send(new ProducerRecord<>(statsTopic, snapshot.getExperimentId(), snapshot))
                    .doOnError(e -> log.warn("cannot publish stats of {}: {}", snapshot.getExperimentId(), e.toString()))
                    .onErrorComplete()
                    .subscribe();
            published.incrementAndGet();
        }
    }

    /** Records read from dkv.scores so far (duplicates and undecodable ones included). */
    public long consumed() {
        return consumed.get();
    }

    public long published() {
        return published.get();
    }

    /** True once the replay reached the end the scores topic had when the service started. */
    public boolean caughtUp() {
        return caughtUp;
    }

    @Override
    public void close() {
        running = false;
        scores.wakeup();
        try {
            stopped.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        sender.close();
        meters.forEach(Metrics.globalRegistry::remove);
        List.of(decodeMeter, aggregateMeter, publishMeter).forEach(StageMeter::close);
        pollThread.dispose();
        aggregateThread.dispose();
    }
}
