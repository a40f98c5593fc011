package dkv.platform.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dkv.platform.pipeline.StagedCalls;
import dkv.platform.testing.SharedKafka;
import dkv.platform.testing.TopicReader;
import dkv.platform.testing.TopicReader.Isolation;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
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

    private static TransactionalPipeline<String, String, List<ConsumerRecord<String, String>>, String, String> pipeline(
            String group, String worker, String input, String dead, Copy stages, int prefetch, AtomicInteger committed) {
        return TransactionalPipeline.<String, String, List<ConsumerRecord<String, String>>, String, String>builder(SharedKafka.settings())
                .groupId(group).workerId(worker)
                .input(List.of(input), new StringDeserializer(), new StringDeserializer())
                .output(new StringSerializer(), new StringSerializer())
                .stages(stages).deadLetterTopic(dead).maxPollRecords(2)
                .stagedCalls(new StagedCalls.Settings(prefetch, 2))
                .meterRegistry(new SimpleMeterRegistry())
                .onCommit((records, outputs, deadLetters) -> committed.addAndGet(records))
                .build();
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
        a.close();
        b.close();
        assertTrue(a.failure().isEmpty() && b.failure().isEmpty(), () -> "failed: " + a.failure() + " " + b.failure());
        assertTrue(committedB.get() > 0, "the second worker took over partitions");
        assertEquals(records, committedA.get() + committedB.get(), "each input committed once: " + committedA + " + " + committedB);
        assertExactlyOnce(output, records);
    }

    private static void assertExactlyOnce(String output, int records) {
        var outputs = TopicReader.readAll(SharedKafka.bootstrapServers(), output, Isolation.READ_COMMITTED,
                new StringDeserializer(), new StringDeserializer());
        Map<String, Long> perKey = outputs.stream().collect(Collectors.groupingBy(ConsumerRecord::key, Collectors.counting()));
        assertEquals(records, perKey.size(), "every input produced an output");
        assertEquals(Set.of(1L), Set.copyOf(perKey.values()), "no output twice");
    }
}
