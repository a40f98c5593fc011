package dkv.producers;

import dkv.avro.DeadLetter;
import dkv.avro.Sample;
import dkv.avro.Surrogate;
import dkv.avro.SurrogateRequest;
import dkv.avro.WorkItem;
import dkv.platform.config.KafkaSettings;
import dkv.producers.plan.GeneratedTexts;
import dkv.schemas.AvroSerde;
import dkv.schemas.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The producer of a plan with generated surrogates: publishes each sample's document to {@code dkv.docs} and joins
 * the generator workers' answers from {@code dkv.surrogates} as they arrive into WorkItems on the work topic — a
 * stream, not a batch step: at most {@code maxPending} samples wait at a time, and a sample's WorkItem goes out as soon
 * as every name it asked for has an answer to its request (the request hash tells answers to other requests under the
 * same key apart).
 *
 * <p>Resumable without loss or duplicates: the compacted surrogates topic is the state. A restarted producer first
 * reads, for its experiment, the WorkItems already on the work topic (not published again), the requests already on
 * {@code dkv.docs} (not sent again) and every answer so far, then continues. A sample fails, with its reason and no
 * WorkItem, when its request went to the dead letters or a generated condition's template failed (e.g. an empty
 * generation); the rest go on.
 */
public final class SurrogateJoin {
    private static final AvroSerde<SurrogateRequest> REQUESTS = AvroSerde.of(SurrogateRequest.class);
    private static final AvroSerde<Surrogate> ANSWERS = AvroSerde.of(Surrogate.class);
    private static final AvroSerde<WorkItem> ITEMS = AvroSerde.of(WorkItem.class);
    private static final AvroSerde<DeadLetter> DEAD = AvroSerde.of(DeadLetter.class);
    private static final Duration POLL = Duration.ofMillis(100);

    private final KafkaSettings settings;
    private final String workTopic;
    private final int maxPending;
    private final Duration idleTimeout;
    private final Consumer<String> log;
    private final LongSupplier clock;

    /**
     * @param maxPending  samples waiting for answers at most (the memory bound)
     * @param idleTimeout give up when no answer arrives for this long while samples wait; zero: wait for ever
     * @param log         one line per failed sample and per long wait
     */
    public SurrogateJoin(KafkaSettings settings, String workTopic, int maxPending, Duration idleTimeout, Consumer<String> log,
            LongSupplier epochMillis) {
        if (maxPending < 1) {
            throw new IllegalArgumentException("max pending samples must be at least 1, got " + maxPending);
        }
        this.settings = settings;
        this.workTopic = workTopic;
        this.maxPending = maxPending;
        this.idleTimeout = idleTimeout;
        this.log = log;
        this.clock = epochMillis;
    }

    /**
     * What a run did.
     *
     * @param published WorkItems sent by this run
     * @param resumed   samples whose WorkItem an earlier run had published
     * @param requested documents sent to {@code dkv.docs} by this run (the others were answered or asked for already)
     * @param failures  samples without a WorkItem, with the reason
     */
    public record Result(long published, long resumed, long requested, Map<String, String> failures) {}

    /** One sample waiting for its answers. */
    private record Pending(Sample sample, SurrogateRequest request, Set<String> names) {}

    public Result publish(WorkPlan work, Progress progress) {
        String experiment = work.plan().experimentId();
        String prefix = experiment + "/";
        String planHash = work.plan().hash();
        Set<String> published = new HashSet<>();
        scan(workTopic, prefix, value -> Optional.of(ITEMS.decode(value)).filter(i -> i.getPlanHash().equals(planHash))
                .map(i -> i.getSample().getId()), published::add);
        Map<String, String> requested = new HashMap<>();
        scanRequests(prefix, requested);

        Map<String, Map<String, Surrogate>> answers = new HashMap<>();
        Map<String, String> deadRequests = new HashMap<>(); // sample -> reason, for requests in dkv.dead
        Map<String, Pending> pending = new LinkedHashMap<>();
        Map<String, String> failures = new LinkedHashMap<>();
        long[] counts = new long[3]; // published, resumed, requested
        AtomicReference<Exception> sendError = new AtomicReference<>();
        Map<String, Object> producerConfig = new HashMap<>(Map.of(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.LINGER_MS_CONFIG, 5));
        try (KafkaConsumer<String, byte[]> consumer = reader(List.of(Topics.SURROGATES, Topics.DEAD));
             KafkaProducer<String, byte[]> producer = new KafkaProducer<>(settings.producer("produce-generated", producerConfig),
                     new StringSerializer(), new ByteArraySerializer())) {
            Joiner joiner = new Joiner(work, producer, progress, answers, deadRequests, pending, failures, counts, sendError);
            Map<TopicPartition, Long> end = consumer.endOffsets(consumer.assignment());
            while (end.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) { // catch up first
                consumer.poll(POLL).forEach(r -> joiner.take(r, prefix));
            }
            for (Sample sample : work.samples().toIterable()) {
                if (published.contains(sample.getId())) {
                    counts[1]++;
                    progress.advance();
                    continue;
                }
                SurrogateRequest request;
                try {
                    request = work.request(sample, clock.getAsLong());
                } catch (IllegalStateException | IllegalArgumentException e) {
                    joiner.fail(sample.getId(), e.getMessage());
                    continue;
                }
                Set<String> names = new HashSet<>();
                request.getTemplates().forEach(t -> names.add(t.getName()));
                request.getTexts().forEach(t -> names.add(t.getName()));
                Pending p = new Pending(sample, request, names);
                pending.put(sample.getId(), p);
                if (!joiner.tryComplete(p) && !request.getRequestHash().equals(requested.get(sample.getId()))) {
                    producer.send(new ProducerRecord<>(Topics.DOCS, Topics.workKey(experiment, sample.getId()), REQUESTS.encode(request)),
                            (meta, e) -> { if (e != null) sendError.compareAndSet(null, e); });
                    counts[2]++;
                }
                consumer.poll(Duration.ZERO).forEach(r -> joiner.take(r, prefix));
                await(consumer, joiner, prefix, pending, maxPending - 1, sendError);
            }
            producer.flush();
            await(consumer, joiner, prefix, pending, 0, sendError);
            producer.flush();
            check(sendError);
        }
        return new Result(counts[0], counts[1], counts[2], failures);
    }

    /** Polls answers until at most {@code most} samples wait; fails after {@link #idleTimeout} without any answer. */
    private void await(KafkaConsumer<String, byte[]> consumer, Joiner joiner, String prefix, Map<String, Pending> pending, int most,
            AtomicReference<Exception> sendError) {
        long lastProgress = System.nanoTime();
        long lastLine = lastProgress;
        while (pending.size() > most) {
            check(sendError);
            int before = pending.size();
            consumer.poll(POLL).forEach(r -> joiner.take(r, prefix));
            long now = System.nanoTime();
            if (pending.size() < before) {
                lastProgress = now;
            } else if (!idleTimeout.isZero() && now - lastProgress > idleTimeout.toNanos()) {
                throw new IllegalStateException("no answers on " + Topics.SURROGATES + " for " + idleTimeout.toSeconds() + " s while "
                        + pending.size() + " samples wait (e.g. " + String.join(", ", pending.keySet().stream().limit(3).toList())
                        + "); is a dkv generator running" + generatorHint(pending) + "?");
            } else if (now - lastLine > Duration.ofSeconds(30).toNanos()) {
                log.accept("waiting for surrogates of " + pending.size() + " samples" + generatorHint(pending));
                lastLine = now;
            }
        }
    }

    private static String generatorHint(Map<String, Pending> pending) {
        return pending.values().stream().findFirst().map(p -> p.request().getGenerator())
                .map(m -> " with model id '" + m.getId() + "'").orElse("");
    }

    private static void check(AtomicReference<Exception> sendError) {
        if (sendError.get() != null) {
            throw new IllegalStateException("cannot send: " + sendError.get().getMessage(), sendError.get());
        }
    }

    /** Applies answers and dead letters to the waiting samples, and publishes the completed ones. */
    private final class Joiner {
        private final WorkPlan work;
        private final KafkaProducer<String, byte[]> producer;
        private final Progress progress;
        private final Map<String, Map<String, Surrogate>> answers;
        private final Map<String, String> deadRequests;
        private final Map<String, Pending> pending;
        private final Map<String, String> failures;
        private final long[] counts;
        private final AtomicReference<Exception> sendError;

        Joiner(WorkPlan work, KafkaProducer<String, byte[]> producer, Progress progress, Map<String, Map<String, Surrogate>> answers,
                Map<String, String> deadRequests, Map<String, Pending> pending, Map<String, String> failures, long[] counts,
                AtomicReference<Exception> sendError) {
            this.work = work;
            this.producer = producer;
            this.progress = progress;
            this.answers = answers;
            this.deadRequests = deadRequests;
            this.pending = pending;
            this.failures = failures;
            this.counts = counts;
            this.sendError = sendError;
        }

        void take(ConsumerRecord<String, byte[]> record, String prefix) {
            if (record.key() == null || !record.key().startsWith(prefix) || record.value() == null) {
                return;
            }
            if (record.topic().equals(Topics.DEAD)) {
                DeadLetter letter = DEAD.decode(record.value());
                if (!letter.getSourceTopic().equals(Topics.DOCS)) return;
                String sample = record.key().substring(prefix.length());
                String hash = null;
                try {
                    hash = letter.getValue() == null ? null : REQUESTS.decode(bytes(letter.getValue())).getRequestHash();
                } catch (RuntimeException undecodable) {
                    // a poison record: it matches by key
                }
                Pending p = pending.get(sample);
                String reason = "request dead-lettered by " + letter.getWorker() + ": " + letter.getMessage();
                if (p == null) {
                    if (hash != null) deadRequests.put(sample + "\u0000" + hash, reason);
                } else if (hash == null || hash.equals(p.request().getRequestHash())) {
                    fail(sample, reason);
                }
                return;
            }
            Surrogate s = ANSWERS.decode(record.value());
            answers.computeIfAbsent(s.getSampleId(), k -> new HashMap<>()).put(s.getName(), s);
            Pending p = pending.get(s.getSampleId());
            if (p != null) tryComplete(p);
        }

        /** Publishes the sample's WorkItem if every name has an answer to this request; true when it is done (or failed). */
        boolean tryComplete(Pending p) {
            String id = p.sample().getId();
            String dead = deadRequests.remove(id + "\u0000" + p.request().getRequestHash());
            if (dead != null) {
                fail(id, dead);
                return true;
            }
            Map<String, Surrogate> got = answers.getOrDefault(id, Map.of());
            Map<String, GeneratedTexts.Answer> byName = new HashMap<>();
            for (String name : p.names()) {
                Surrogate s = got.get(name);
                if (s == null || !s.getRequestHash().equals(p.request().getRequestHash())) return false;
                byName.put(name, new GeneratedTexts.Answer(s.getText(), s.getQuerySimilarity(),
                        s.getText() == null ? s.getError() : s.getSimilarityError()));
            }
            Optional<String> generator = Optional.ofNullable(p.request().getGenerator()).map(m -> m.getId());
            KeyedWork item;
            try {
                item = work.joined(p.sample(), new GeneratedTexts(byName, generator));
            } catch (IllegalStateException e) {
                fail(id, e.getMessage());
                return true;
            }
            producer.send(new ProducerRecord<>(workTopic, item.key(), ITEMS.encode(item.item())),
                    (meta, e) -> { if (e != null) sendError.compareAndSet(null, e); });
            pending.remove(id);
            answers.remove(id);
            counts[0]++;
            progress.advance();
            return true;
        }

        void fail(String sample, String reason) {
            pending.remove(sample);
            answers.remove(sample);
            failures.put(sample, reason);
            log.accept("sample " + sample + ": no work item: " + reason);
            progress.advance();
        }
    }

    private static byte[] bytes(java.nio.ByteBuffer buffer) {
        byte[] b = new byte[buffer.remaining()];
        buffer.duplicate().get(b);
        return b;
    }

    /** The requests already on dkv.docs for this experiment: sample id → request hash (the latest per key). */
    private void scanRequests(String prefix, Map<String, String> requested) {
        scan(Topics.DOCS, prefix, value -> {
            SurrogateRequest r = REQUESTS.decode(value);
            requested.put(r.getSampleId(), r.getRequestHash());
            return Optional.<String>empty();
        }, s -> {});
    }

    /** Reads {@code topic} from the beginning to its end now; every value under {@code prefix} through {@code read}. */
    private void scan(String topic, String prefix, java.util.function.Function<byte[], Optional<String>> read, Consumer<String> found) {
        try (KafkaConsumer<String, byte[]> consumer = reader(List.of(topic))) {
            Map<TopicPartition, Long> end = consumer.endOffsets(consumer.assignment());
            while (end.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(POLL)) {
                    if (r.key() == null || !r.key().startsWith(prefix) || r.value() == null) continue;
                    try {
                        read.apply(r.value()).ifPresent(found);
                    } catch (RuntimeException undecodable) {
                        // not ours to judge here: the workers dead-letter what they cannot decode
                    }
                }
            }
        }
    }

    /** A group-less read_committed consumer of every partition of {@code topics}, from the beginning. */
    private KafkaConsumer<String, byte[]> reader(List<String> topics) {
        Map<String, Object> config = new HashMap<>();
        config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(settings.consumer(null, "produce-join", config),
                new StringDeserializer(), new ByteArrayDeserializer());
        List<TopicPartition> partitions = new ArrayList<>();
        for (String topic : topics) {
            consumer.partitionsFor(topic).forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        return consumer;
    }
}
