package dkv.platform.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dkv.avro.DeadLetter;
import dkv.platform.pipeline.StagedCalls;
import dkv.platform.testing.SharedKafka;
import dkv.platform.testing.TopicReader;
import dkv.platform.testing.TopicReader.Isolation;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerInterceptor;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

class TransactionalPipelineTest {

    /** Copies each record, upper-casing its value; "poison" values fail alone. */
    private static final class Copy implements TransactionalPipeline.Stages<String, String, List<ConsumerRecord<String, String>>, String, String> {
        private final String output;
        private final CountDownLatch release;
        private final AtomicInteger scored = new AtomicInteger();

        Copy(String output, CountDownLatch release) {
            this.output = output;
            this.release = release;
        }

        @Override
        public List<ConsumerRecord<String, String>> prepare(List<ConsumerRecord<String, String>> records) {
            return records;
        }

        @Override
        public List<Outcome<String, String>> score(List<ConsumerRecord<String, String>> records) {
            try {
                if (!release.await(60, TimeUnit.SECONDS)) throw new IllegalStateException("never released");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            List<Outcome<String, String>> out = new ArrayList<>();
            for (ConsumerRecord<String, String> r : records) {
                scored.incrementAndGet();
                out.add(Outcome.produced(List.of(new ProducerRecord<>(output, r.key(), r.value() + "-out"))));
            }
            return out;
        }
    }

    /** Each record's outcome from {@code outcome}, in the score stage; the prepare stage remembers the largest call. */
    private static final class PerRecord implements TransactionalPipeline.Stages<String, String, List<ConsumerRecord<String, String>>, String, String> {
        private final Function<ConsumerRecord<String, String>, Outcome<String, String>> outcome;
        private final AtomicInteger largestCall = new AtomicInteger();

        PerRecord(Function<ConsumerRecord<String, String>, Outcome<String, String>> outcome) {
            this.outcome = outcome;
        }

        @Override
        public List<ConsumerRecord<String, String>> prepare(List<ConsumerRecord<String, String>> records) {
            largestCall.accumulateAndGet(records.size(), Math::max);
            return records;
        }

        @Override
        public List<Outcome<String, String>> score(List<ConsumerRecord<String, String>> records) {
            return records.stream().map(outcome).toList();
        }
    }

    /** {@code k<i> → v<i>-out} to {@code output}. */
    private static Outcome<String, String> copy(ConsumerRecord<String, String> record, String output) {
        return Outcome.produced(List.of(new ProducerRecord<>(output, record.key(), record.value() + "-out")));
    }

    private static TransactionalPipeline<String, String, List<ConsumerRecord<String, String>>, String, String> pipeline(
            String group, String worker, String input, String dead, Copy stages, int prefetch, AtomicInteger committed) {
        return builder(group, worker, input, dead, stages, committed).maxPollRecords(2)
                .stagedCalls(new StagedCalls.Settings(prefetch, 2))
                .build();
    }

    /** Strings in and out, two prepare threads, the committed records counted. */
    private static TransactionalPipeline.Builder<String, String, List<ConsumerRecord<String, String>>, String, String> builder(
            String group, String worker, String input, String dead,
            TransactionalPipeline.Stages<String, String, List<ConsumerRecord<String, String>>, String, String> stages,
            AtomicInteger committed) {
        return TransactionalPipeline.<String, String, List<ConsumerRecord<String, String>>, String, String>builder(SharedKafka.settings())
                .groupId(group).workerId(worker)
                .input(List.of(input), new StringDeserializer(), new StringDeserializer())
                .output(new StringSerializer(), new StringSerializer())
                .stages(stages).deadLetterTopic(dead)
                .stagedCalls(new StagedCalls.Settings(StagedCalls.Settings.DEFAULT_PREFETCH, 2))
                .meterRegistry(new SimpleMeterRegistry())
                .onCommit((records, outputs, deadLetters) -> committed.addAndGet(records));
    }

    /**
     * Runs a hook on the producer's I/O thread for every record the broker acknowledged, chosen by the producer's
     * {@code transactional.id} when it is created: lets a test act while a transaction's outputs are in the log and
     * the transaction is still open.
     */
    public static final class OnAcknowledgement implements ProducerInterceptor<byte[], byte[]> {
        static final Map<String, Runnable> HOOKS = new ConcurrentHashMap<>();
        private Runnable hook = () -> {};

        @Override
        public void configure(Map<String, ?> configs) {
            hook = HOOKS.getOrDefault(String.valueOf(configs.get(ProducerConfig.TRANSACTIONAL_ID_CONFIG)), () -> {});
        }

        @Override
        public ProducerRecord<byte[], byte[]> onSend(ProducerRecord<byte[], byte[]> record) {
            return record;
        }

        @Override
        public void onAcknowledgement(RecordMetadata metadata, Exception exception) {
            if (exception == null) {
                hook.run();
            }
        }

        @Override
        public void close() {}
    }

    /**
     * Run 1 is killed (halted: no commit, no abort, connections dropped) inside a transaction whose outputs the broker
     * has acknowledged: once a third of the input is committed, the fifth acknowledged output of an open transaction
     * halts it from the producer's I/O thread, before the transaction's commit can be sent. Run 2 with the same worker
     * id finishes the input. A read_committed reader must see each output exactly once: committing offsets outside the
     * transaction would lose the killed call; not committing them with it would duplicate the calls before it.
     */
    @Test
    void aPipelineHaltedMidTransactionAndRestartedYieldsEveryOutputExactlyOnce() throws Exception {
        int records = 300;
        String input = SharedKafka.newTopic("halt-in", 3);
        String output = SharedKafka.newTopic("halt-out", 3);
        String dead = SharedKafka.newTopic("halt-dead", 1);
        String group = SharedKafka.uniqueName("halt");
        String worker = "halt-0";
        TestData.fill(SharedKafka.bootstrapServers(), input, records);
        PerRecord copying = new PerRecord(record -> copy(record, output));
        Map<String, Object> intercepted = Map.of(ProducerConfig.INTERCEPTOR_CLASSES_CONFIG, List.of(OnAcknowledgement.class));

        AtomicInteger committed = new AtomicInteger();
        AtomicInteger committedOutputs = new AtomicInteger();
        AtomicInteger acknowledged = new AtomicInteger();
        AtomicReference<TransactionalPipeline<String, String, List<ConsumerRecord<String, String>>, String, String>> first =
                new AtomicReference<>();
        OnAcknowledgement.HOOKS.put(TransactionalPipeline.transactionalId(group, worker), () -> {
            int inOpenTransaction = acknowledged.incrementAndGet() - committedOutputs.get();
            if (committed.get() >= records / 3 && inOpenTransaction >= 5) {
                first.get().halt();
            }
        });
        var run1 = builder(group, worker, input, dead, copying, committed).maxPollRecords(20)
                .producerOverrides(intercepted)
                .onCommit((polled, outputs, deadLetters) -> {
                    committed.addAndGet(polled);
                    committedOutputs.addAndGet(outputs);
                })
                .build();
        first.set(run1);
        try {
            run1.start();
            assertTrue(run1.awaitTermination(Duration.ofSeconds(60)), "run 1 was killed");
        } finally {
            OnAcknowledgement.HOOKS.remove(TransactionalPipeline.transactionalId(group, worker));
        }
        assertTrue(run1.failure().isEmpty(), () -> "run 1 stopped by the halt only: " + run1.failure().orElseThrow());
        assertTrue(committed.get() >= records / 3 && committed.get() < records, "run 1 committed part of the input: " + committed.get());
        int inLog = TopicReader.readAll(SharedKafka.bootstrapServers(), output, Isolation.READ_UNCOMMITTED,
                new StringDeserializer(), new StringDeserializer()).size();
        assertTrue(inLog - committedOutputs.get() >= 5, "outputs of the open transaction were in the log: "
                + (inLog - committedOutputs.get()));
        try (Admin admin = Admin.create(SharedKafka.settings().admin("halt-check"))) {
            var members = admin.describeConsumerGroups(List.of(group)).all().get().get(group).members();
            assertEquals(List.of(Optional.of(worker)), members.stream().map(MemberDescription::groupInstanceId).toList(),
                    "the halted consumer did not leave the group");
        }

        var run2 = builder(group, worker, input, dead, copying, committed).maxPollRecords(20).build().start();
        TopicReader.readUntil(SharedKafka.bootstrapServers(), output, Isolation.READ_COMMITTED, new StringDeserializer(),
                new StringDeserializer(), r -> r.size() >= records, Duration.ofSeconds(60));
        run2.close();
        assertTrue(run2.failure().isEmpty(), () -> "run 2 failed: " + run2.failure().orElseThrow());

        assertExactlyOnce(output, records);
        TopicReader.readAll(SharedKafka.bootstrapServers(), output, Isolation.READ_COMMITTED, new StringDeserializer(),
                new StringDeserializer()).forEach(r -> assertEquals("v" + r.key().substring(1) + "-out", r.value()));
        int allInLog = TopicReader.readAll(SharedKafka.bootstrapServers(), output, Isolation.READ_UNCOMMITTED,
                new StringDeserializer(), new StringDeserializer()).size();
        assertTrue(allInLog > records, "the killed transaction's outputs are in the log but aborted: " + allInLog);
        assertEquals(0, TopicReader.readAll(SharedKafka.bootstrapServers(), dead, Isolation.READ_COMMITTED,
                new ByteArrayDeserializer(), new ByteArrayDeserializer()).size());
    }

    /**
     * A record that cannot be decoded, one whose outcome is a failure and one whose output cannot be encoded become dead
     * letters naming their stage, committed in their call's transaction with the other records' outputs.
     */
    @Test
    void undecodableFailedAndUnencodableRecordsBecomeDeadLettersInTheirCallsTransaction() throws Exception {
        String input = SharedKafka.newTopic("dl-in", 1);
        String output = SharedKafka.newTopic("dl-out", 1);
        String dead = SharedKafka.newTopic("dl-dead", 1);
        TestData.fill(SharedKafka.bootstrapServers(), input, 20);
        Deserializer<String> rejectingV3 = (topic, bytes) -> {
            String value = new String(bytes, StandardCharsets.UTF_8);
            if (value.equals("v3")) {
                throw new SerializationException("v3 is poison");
            }
            return value;
        };
        Serializer<String> rejectingV11 = (topic, value) -> {
            if (value.equals("v11-out")) {
                throw new SerializationException("v11-out does not fit the schema");
            }
            return value.getBytes(StandardCharsets.UTF_8);
        };
        PerRecord failingV7 = new PerRecord(record -> record.value().equals("v7")
                ? Outcome.failed(new IllegalArgumentException("cannot score v7")) : copy(record, output));
        AtomicInteger committed = new AtomicInteger();
        var p = builder(SharedKafka.uniqueName("dl"), "dl-worker", input, dead, failingV7, committed)
                .input(List.of(input), new StringDeserializer(), rejectingV3)
                .output(new StringSerializer(), rejectingV11)
                .build().start();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (committed.get() < 20 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        p.close();
        assertTrue(p.failure().isEmpty(), () -> "failed: " + p.failure().orElseThrow());

        assertEquals(17, TopicReader.readAll(SharedKafka.bootstrapServers(), output, Isolation.READ_COMMITTED,
                new StringDeserializer(), new StringDeserializer()).size());
        Map<String, DeadLetter> letters = new HashMap<>();
        for (var record : TopicReader.readAll(SharedKafka.bootstrapServers(), dead, Isolation.READ_COMMITTED,
                new StringDeserializer(), new ByteArrayDeserializer())) {
            letters.put(record.key(), DeadLetters.decode(record.value()));
        }
        assertEquals(Set.of("k3", "k7", "k11"), letters.keySet());
        assertEquals("decode", letters.get("k3").getStage());
        assertEquals(SerializationException.class.getName(), letters.get("k3").getError());
        assertEquals("v3", StandardCharsets.UTF_8.decode(letters.get("k3").getValue()).toString());
        assertEquals("process", letters.get("k7").getStage());
        assertEquals("cannot score v7", letters.get("k7").getMessage());
        assertEquals(7L, letters.get("k7").getSourceOffset());
        assertEquals("encode", letters.get("k11").getStage());
        assertEquals("v11-out does not fit the schema", letters.get("k11").getMessage());
        assertEquals("dl-worker", letters.get("k11").getWorker());
    }

    /**
     * The stages see each poll as one call (never more than max.poll.records), a record may have several outputs, and a
     * failed outcome is a dead letter with its reason.
     */
    @Test
    void theStagesSeeWholePollsAndAFailedOutcomeIsADeadLetter() throws Exception {
        String input = SharedKafka.newTopic("batch-in", 2);
        String output = SharedKafka.newTopic("batch-out", 2);
        String dead = SharedKafka.newTopic("batch-dead", 1);
        TestData.fill(SharedKafka.bootstrapServers(), input, 50);
        PerRecord twoEach = new PerRecord(record -> record.value().equals("v13")
                ? Outcome.failed(new IllegalStateException("no answer tokens"))
                : Outcome.produced(List.of(new ProducerRecord<>(output, record.key(), record.value() + "!"),
                        new ProducerRecord<>(output, record.key(), record.value() + "?"))));
        AtomicInteger committed = new AtomicInteger();
        var p = builder(SharedKafka.uniqueName("batch"), "batch-worker", input, dead, twoEach, committed)
                .maxPollRecords(25).build().start();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (committed.get() < 50 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        p.close();
        assertTrue(p.failure().isEmpty(), () -> "failed: " + p.failure().orElseThrow());

        assertTrue(twoEach.largestCall.get() > 1, "records arrive in calls: " + twoEach.largestCall);
        assertTrue(twoEach.largestCall.get() <= 25, "never more than max.poll.records: " + twoEach.largestCall);
        assertEquals(98, TopicReader.readAll(SharedKafka.bootstrapServers(), output, Isolation.READ_COMMITTED,
                new StringDeserializer(), new StringDeserializer()).size(), "two outputs for each of 49 records");
        var letters = TopicReader.readAll(SharedKafka.bootstrapServers(), dead, Isolation.READ_COMMITTED,
                new StringDeserializer(), new ByteArrayDeserializer());
        assertEquals(List.of("k13"), letters.stream().map(ConsumerRecord::key).toList());
        assertEquals("no answer tokens", DeadLetters.decode(letters.get(0).value()).getMessage());
    }

    /**
     * The score stage is held on its first call: the prepare stage fills exactly {@code prefetch} prepared calls, and
     * then the receiver is left without demand (backpressure reaches Kafka) instead of preparing the rest of the
     * 60-record input. Counted, not timed. Once released, every record is committed exactly once.
     */
    @Test
    void aSlowScoreStageHoldsAtMostPrefetchPreparedCalls() throws Exception {
        int records = 60;
        int prefetch = 2;
        String input = SharedKafka.newTopic("staged-in", 2);
        String output = SharedKafka.newTopic("staged-out", 2);
        String dead = SharedKafka.newTopic("staged-dead", 1);
        TestData.fill(SharedKafka.bootstrapServers(), input, records);
        CountDownLatch release = new CountDownLatch(1);
        Copy stages = new Copy(output, release);
        AtomicInteger committed = new AtomicInteger();
        var p = pipeline(SharedKafka.uniqueName("staged"), "staged-0", input, dead, stages, prefetch, committed).start();
        var held = p.stagedCalls().scoreStage();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        // held: prefetch prepared calls wait while the first is scored, and the receiver has no demand left
        while (!(held.waiting() == prefetch && p.receiver().demand() == 0 && p.stagedCalls().prepareStage().waiting() == 0)) {
            if (held.waiting() > prefetch || System.nanoTime() > deadline) {
                release.countDown();
                fail("prepared calls waiting: " + held.waiting() + " (prefetch " + prefetch + "), receiver demand " + p.receiver().demand());
            }
            Thread.sleep(10);
        }
        assertEquals(prefetch + 1, p.stagedCalls().prepareStage().done(), "the call being scored and the prefetched ones were prepared, no more");
        release.countDown();
        TopicReader.readUntil(SharedKafka.bootstrapServers(), output, Isolation.READ_COMMITTED, new StringDeserializer(),
                new StringDeserializer(), r -> r.size() >= records, Duration.ofSeconds(60));
        p.close();
        assertTrue(p.failure().isEmpty(), () -> "failed: " + p.failure().orElseThrow());
        assertEquals(prefetch, held.maxWaiting(), "prepared calls in memory at most");
        assertEquals(records, committed.get());
        assertExactlyOnce(output, records);
    }

    /**
     * A second worker joins while the first holds prepared calls: the first's calls of moved partitions are dropped
     * uncommitted and read again by their new owner; every output appears exactly once.
     */
    @Test
    void aRebalanceDropsPreparedCallsOfRevokedPartitionsWithoutLossOrDuplicates() throws Exception {
        int records = 80;
        String input = SharedKafka.newTopic("staged-rebalance-in", 4);
        String output = SharedKafka.newTopic("staged-rebalance-out", 4);
        String dead = SharedKafka.newTopic("staged-rebalance-dead", 1);
        String group = SharedKafka.uniqueName("staged-rebalance");
        TestData.fill(SharedKafka.bootstrapServers(), input, records);
        CountDownLatch holdA = new CountDownLatch(1);
        Copy stagesA = new Copy(output, holdA);
        AtomicInteger committedA = new AtomicInteger();
        AtomicInteger committedB = new AtomicInteger();
        var a = pipeline(group, "staged-a", input, dead, stagesA, 2, committedA).start();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (a.stagedCalls().scoreStage().waiting() < 2) { // a holds prepared calls, its score stage stuck
            if (System.nanoTime() > deadline) fail("worker a never prepared two calls");
            Thread.sleep(10);
        }
        var b = pipeline(group, "staged-b", input, dead, new Copy(output, new CountDownLatch(0)), 2, committedB).start();
        deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (b.assignment().isEmpty() || a.assignment().size() == 4) { // the partitions moved while a was stuck
            if (System.nanoTime() > deadline) fail("no rebalance: a holds " + a.assignment() + ", b " + b.assignment());
            Thread.sleep(10);
        }
        holdA.countDown();
        TopicReader.readUntil(SharedKafka.bootstrapServers(), output, Isolation.READ_COMMITTED, new StringDeserializer(),
                new StringDeserializer(), r -> r.size() >= records, Duration.ofSeconds(90));
        // once the group has settled, the two hold every input partition between them, none twice
        Set<TopicPartition> all = IntStream.range(0, 4).mapToObj(p -> new TopicPartition(input, p)).collect(Collectors.toSet());
        long settle = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!splitBetween(a.assignment(), b.assignment(), all) && System.nanoTime() < settle) {
            Thread.sleep(50);
        }
        assertTrue(splitBetween(a.assignment(), b.assignment(), all), "a holds " + a.assignment() + ", b holds " + b.assignment());
        a.close();
        b.close();
        assertEquals(Set.of(), a.assignment(), "a closed pipeline holds nothing");
        assertTrue(a.failure().isEmpty() && b.failure().isEmpty(), () -> "failed: " + a.failure() + " " + b.failure());
        assertTrue(committedB.get() > 0, "the second worker took over partitions");
        assertEquals(records, committedA.get() + committedB.get(), "each input committed once: " + committedA + " + " + committedB);
        assertExactlyOnce(output, records);
    }

    private static boolean splitBetween(Set<TopicPartition> a, Set<TopicPartition> b, Set<TopicPartition> all) {
        Set<TopicPartition> union = new HashSet<>(a);
        union.addAll(b);
        return !a.isEmpty() && !b.isEmpty() && a.size() + b.size() == all.size() && union.equals(all);
    }

    private static void assertExactlyOnce(String output, int records) {
        var outputs = TopicReader.readAll(SharedKafka.bootstrapServers(), output, Isolation.READ_COMMITTED,
                new StringDeserializer(), new StringDeserializer());
        Map<String, Long> perKey = outputs.stream().collect(Collectors.groupingBy(ConsumerRecord::key, Collectors.counting()));
        assertEquals(records, perKey.size(), "every input produced an output");
        assertEquals(Set.of(1L), Set.copyOf(perKey.values()), "no output twice");
    }
}
