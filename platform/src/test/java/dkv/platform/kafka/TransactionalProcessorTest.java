package dkv.platform.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.DeadLetter;
import dkv.platform.testing.SharedKafka;
import dkv.platform.testing.TopicReader;
import dkv.platform.testing.TopicReader.Isolation;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

class TransactionalProcessorTest {
    private static final int RECORDS = 300;

    /**
     * Run 1 is killed (halted: no commit, no abort, connections dropped) in the middle of a batch whose
     * outputs are already in the log; run 2 with the same worker id finishes the input. A read_committed
     * reader must see each output exactly once. Committing offsets outside the transaction would lose the
     * killed batch; not committing them with it would duplicate the batches before it.
     */
    @Test
    void aWorkerKilledMidBatchAndRestartedYieldsEveryOutputExactlyOnce() throws Exception {
        String input = SharedKafka.newTopic("eos-in", 3);
        String output = SharedKafka.newTopic("eos-out", 3);
        String dead = SharedKafka.newTopic("eos-dead", 1);
        String group = SharedKafka.uniqueName("eos");
        TestData.fill(SharedKafka.bootstrapServers(), input, RECORDS);

        AtomicInteger processed = new AtomicInteger();
        AtomicInteger committed = new AtomicInteger();
        AtomicReference<TransactionalProcessor<String, String, String, String>> first = new AtomicReference<>();
        AtomicInteger uncommittedAtKill = new AtomicInteger();
        var run1 = processor(group, input, output, dead, committed, record -> {
            int inOpenTransaction = processed.get() - committed.get();
            if (processed.get() >= RECORDS / 3 && inOpenTransaction >= 5 && first.get().isRunning()) {
                // make sure the open transaction's outputs really reached the log before dying
                int sentSoFar = processed.get();
                var inLog = TopicReader.readUntil(SharedKafka.bootstrapServers(), output, Isolation.READ_UNCOMMITTED,
                        new StringDeserializer(), new StringDeserializer(), r -> r.size() >= sentSoFar, Duration.ofSeconds(20));
                uncommittedAtKill.set(inLog.size() - committed.get());
                first.get().halt();
                return List.of();
            }
            processed.incrementAndGet();
            return List.of(new ProducerRecord<>(output, record.key(), record.value() + "-out"));
        });
        first.set(run1);
        run1.start();
        assertTrue(run1.awaitTermination(Duration.ofSeconds(60)), "run 1 was killed");
        assertTrue(uncommittedAtKill.get() >= 5, "outputs of the open transaction were in the log: " + uncommittedAtKill.get());
        assertTrue(committed.get() > 0 && committed.get() < RECORDS, "run 1 committed part of the input: " + committed.get());

        var run2 = processor(group, input, output, dead, committed,
                record -> List.of(new ProducerRecord<>(output, record.key(), record.value() + "-out")));
        run2.start();
        List<ConsumerRecord<String, String>> outputs = TopicReader.readUntil(SharedKafka.bootstrapServers(), output,
                Isolation.READ_COMMITTED, new StringDeserializer(), new StringDeserializer(),
                r -> r.size() >= RECORDS, Duration.ofSeconds(60));
        run2.close();
        assertTrue(run2.failure().isEmpty(), () -> "run 2 failed: " + run2.failure().orElseThrow());

        outputs = TopicReader.readAll(SharedKafka.bootstrapServers(), output, Isolation.READ_COMMITTED,
                new StringDeserializer(), new StringDeserializer());
        Map<String, Long> perKey = outputs.stream().collect(Collectors.groupingBy(ConsumerRecord::key, Collectors.counting()));
        assertEquals(RECORDS, perKey.size(), "every input produced an output");
        assertEquals(Set.of(1L), Set.copyOf(perKey.values()), "no output twice");
        outputs.forEach(r -> assertEquals("v" + r.key().substring(1) + "-out", r.value()));
        int allInLog = TopicReader.readAll(SharedKafka.bootstrapServers(), output, Isolation.READ_UNCOMMITTED,
                new StringDeserializer(), new StringDeserializer()).size();
        assertTrue(allInLog > RECORDS, "the killed transaction's outputs are in the log but aborted: " + allInLog);
        assertEquals(0, TopicReader.readAll(SharedKafka.bootstrapServers(), dead, Isolation.READ_COMMITTED,
                new ByteArrayDeserializer(), new ByteArrayDeserializer()).size());
    }

    /**
     * A second worker joins while the first is mid-batch: partitions move (cooperative rebalance, the
     * moving batch committed before revocation) and every output still appears exactly once.
     */
    @Test
    void aWorkerJoiningMidStreamTakesOverPartitionsWithoutLossOrDuplicates() throws Exception {
        int records = 1500;
        String input = SharedKafka.newTopic("rebalance-in", 6);
        String output = SharedKafka.newTopic("rebalance-out", 6);
        String dead = SharedKafka.newTopic("rebalance-dead", 1);
        String group = SharedKafka.uniqueName("rebalance");
        TestData.fill(SharedKafka.bootstrapServers(), input, records);
        AtomicInteger committedA = new AtomicInteger();
        AtomicInteger committedB = new AtomicInteger();
        // slow (20 ms a record, 30 s for the whole input) until the second worker has committed, so that it
        // joins while most of the input is still unprocessed: its first commit takes ~5.5 s (heartbeat, two
        // cooperative rounds) whatever the machine's speed
        TransactionalProcessor.RecordFunction<String, String, String, String> slowCopy = record -> {
            Thread.sleep(committedB.get() == 0 ? 20 : 1);
            return List.of(new ProducerRecord<>(output, record.key(), record.value() + "-out"));
        };
        var a = processor(group, "worker-a", input, output, dead, committedA, slowCopy).start();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (committedA.get() < 40 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        var b = processor(group, "worker-b", input, output, dead, committedB, slowCopy).start();
        TopicReader.readUntil(SharedKafka.bootstrapServers(), output, Isolation.READ_COMMITTED,
                new StringDeserializer(), new StringDeserializer(), r -> r.size() >= records, Duration.ofSeconds(90));
        // once the group has settled, the two hold every input partition between them, none twice
        Set<TopicPartition> all = java.util.stream.IntStream.range(0, 6).mapToObj(p -> new TopicPartition(input, p)).collect(Collectors.toSet());
        long settle = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!splitBetween(a.assignment(), b.assignment(), all) && System.nanoTime() < settle) {
            Thread.sleep(50);
        }
        assertTrue(splitBetween(a.assignment(), b.assignment(), all), "a holds " + a.assignment() + ", b holds " + b.assignment());
        a.close();
        b.close();
        assertEquals(Set.of(), a.assignment(), "a closed processor holds nothing");
        assertTrue(a.failure().isEmpty() && b.failure().isEmpty(), () -> "failed: " + a.failure() + " " + b.failure());

        var outputs = TopicReader.readAll(SharedKafka.bootstrapServers(), output, Isolation.READ_COMMITTED,
                new StringDeserializer(), new StringDeserializer());
        Map<String, Long> perKey = outputs.stream().collect(Collectors.groupingBy(ConsumerRecord::key, Collectors.counting()));
        assertEquals(records, perKey.size(), "every input produced an output");
        assertEquals(Set.of(1L), Set.copyOf(perKey.values()), "no output twice");
        assertTrue(committedB.get() > 0, "the second worker took over partitions");
        assertEquals(records, committedA.get() + committedB.get(), "each input committed once: " + committedA + " + " + committedB);
    }

    @Test
    void undecodableAndFailingRecordsBecomeDeadLettersInTheSameTransaction() throws Exception {
        String input = SharedKafka.newTopic("dl-in", 1);
        String output = SharedKafka.newTopic("dl-out", 1);
        String dead = SharedKafka.newTopic("dl-dead", 1);
        TestData.fill(SharedKafka.bootstrapServers(), input, 20);
        Deserializer<String> rejectingV3 = (topic, bytes) -> {
            String value = new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
            if (value.equals("v3")) {
                throw new SerializationException("v3 is poison");
            }
            return value;
        };
        AtomicInteger committed = new AtomicInteger();
        var processor = TransactionalProcessor.<String, String, String, String>builder(SharedKafka.settings())
                .groupId(SharedKafka.uniqueName("dl")).workerId("dl-worker")
                .input(List.of(input), new StringDeserializer(), rejectingV3)
                .output(new StringSerializer(), new StringSerializer())
                .deadLetterTopic(dead)
                .onCommit((records, outputs, deadLetters) -> committed.addAndGet(records))
                .perRecord(record -> {
                    if (record.value().equals("v7")) {
                        throw new IllegalArgumentException("cannot score v7");
                    }
                    return List.of(new ProducerRecord<>(output, record.key(), record.value()));
                })
                .build()
                .start();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (committed.get() < 20 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        processor.close();

        assertEquals(18, TopicReader.readAll(SharedKafka.bootstrapServers(), output, Isolation.READ_COMMITTED,
                new StringDeserializer(), new StringDeserializer()).size());
        Map<String, DeadLetter> letters = new HashMap<>();
        for (var record : TopicReader.readAll(SharedKafka.bootstrapServers(), dead, Isolation.READ_COMMITTED,
                new StringDeserializer(), new ByteArrayDeserializer())) {
            DeadLetter letter = DeadLetters.decode(record.value());
            letters.put(record.key(), letter);
        }
        assertEquals(Set.of("k3", "k7"), letters.keySet());
        assertEquals("decode", letters.get("k3").getStage());
        assertEquals(SerializationException.class.getName(), letters.get("k3").getError());
        assertEquals("v3", java.nio.charset.StandardCharsets.UTF_8.decode(letters.get("k3").getValue()).toString());
        assertEquals("process", letters.get("k7").getStage());
        assertEquals("cannot score v7", letters.get("k7").getMessage());
        assertEquals(7L, letters.get("k7").getSourceOffset());
    }

    @Test
    void aBatchFunctionSeesWholeBatchesAndItsFailedOutcomesBecomeDeadLetters() throws Exception {
        String input = SharedKafka.newTopic("batch-in", 2);
        String output = SharedKafka.newTopic("batch-out", 2);
        String dead = SharedKafka.newTopic("batch-dead", 1);
        TestData.fill(SharedKafka.bootstrapServers(), input, 50);
        AtomicInteger committed = new AtomicInteger();
        AtomicInteger largestBatch = new AtomicInteger();
        var processor = TransactionalProcessor.<String, String, String, String>builder(SharedKafka.settings())
                .groupId(SharedKafka.uniqueName("batch")).workerId("batch-worker")
                .input(List.of(input), new StringDeserializer(), new StringDeserializer())
                .output(new StringSerializer(), new StringSerializer())
                .deadLetterTopic(dead)
                .maxPollRecords(25)
                .onCommit((records, outputs, deadLetters) -> committed.addAndGet(records))
                .perBatch(batch -> {
                    largestBatch.accumulateAndGet(batch.size(), Math::max);
                    return batch.stream().map(record -> record.value().equals("v13")
                            ? Outcome.<String, String>failed(new IllegalStateException("no answer tokens"))
                            : Outcome.produced(List.of(new ProducerRecord<>(output, record.key(), record.value() + "!"),
                                    new ProducerRecord<>(output, record.key(), record.value() + "?")))).toList();
                })
                .build()
                .start();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (committed.get() < 50 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        processor.close();

        assertTrue(largestBatch.get() > 1, "records arrive in batches: " + largestBatch);
        assertTrue(largestBatch.get() <= 25, "never more than max.poll.records: " + largestBatch);
        assertEquals(98, TopicReader.readAll(SharedKafka.bootstrapServers(), output, Isolation.READ_COMMITTED,
                new StringDeserializer(), new StringDeserializer()).size(), "two outputs for each of 49 records");
        var letters = TopicReader.readAll(SharedKafka.bootstrapServers(), dead, Isolation.READ_COMMITTED,
                new StringDeserializer(), new ByteArrayDeserializer());
        assertEquals(List.of("k13"), letters.stream().map(ConsumerRecord::key).toList());
        assertEquals("no answer tokens", DeadLetters.decode(letters.get(0).value()).getMessage());
    }

    private static TransactionalProcessor<String, String, String, String> processor(String group, String input,
            String output, String dead, AtomicInteger committed,
            TransactionalProcessor.RecordFunction<String, String, String, String> function) {
        return processor(group, "worker-a", input, output, dead, committed, function);
    }

    private static TransactionalProcessor<String, String, String, String> processor(String group, String workerId,
            String input, String output, String dead, AtomicInteger committed,
            TransactionalProcessor.RecordFunction<String, String, String, String> function) {
        return TransactionalProcessor.<String, String, String, String>builder(SharedKafka.settings())
                .groupId(group)
                .workerId(workerId)
                .input(List.of(input), new StringDeserializer(), new StringDeserializer())
                .output(new StringSerializer(), new StringSerializer())
                .deadLetterTopic(dead)
                .maxPollRecords(20)
                .onCommit((records, outputs, deadLetters) -> committed.addAndGet(records))
                .perRecord(function)
                .build();
    }

    @Test
    void rebalanceLogsNameEachTopicOnceWithItsPartitionsInOrder() {
        assertEquals("dkv.dead[0] dkv.work[0,2,11]", TransactionalProcessor.compact(List.of(new TopicPartition("dkv.work", 11),
                new TopicPartition("dkv.work", 0), new TopicPartition("dkv.dead", 0), new TopicPartition("dkv.work", 2))));
        assertEquals("", TransactionalProcessor.compact(List.of()));
    }

    private static boolean splitBetween(Set<TopicPartition> a, Set<TopicPartition> b, Set<TopicPartition> all) {
        Set<TopicPartition> union = new java.util.HashSet<>(a);
        union.addAll(b);
        return !a.isEmpty() && !b.isEmpty() && a.size() + b.size() == all.size() && union.equals(all);
    }
}
