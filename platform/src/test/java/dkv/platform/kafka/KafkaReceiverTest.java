package dkv.platform.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.platform.testing.SharedKafka;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import reactor.core.scheduler.Schedulers;

class KafkaReceiverTest {
    private static final int TOPIC_RECORDS = 100_000;
    private static final int MAX_POLL_RECORDS = 50;
    private static final int PREFETCH = 8;

    /**
     * The topic holds 100k records; a subscriber that takes ~0.2 ms per record with a prefetch of 8 must
     * never have more than one poll's worth plus its prefetch fetched-but-unprocessed. A receiver that
     * emitted without regard to demand would pile thousands up within the first few milliseconds.
     */
    @Test
    void aSlowSubscriberKeepsBufferedRecordsBoundedWhileTheTopicHolds100k() throws Exception {
        String topic = SharedKafka.newTopic("backpressure", 4);
        TestData.fill(SharedKafka.bootstrapServers(), topic, TOPIC_RECORDS);
        assertEquals(TOPIC_RECORDS, TestData.endOffsetSum(SharedKafka.broker().admin(), topic, 4));

        String group = SharedKafka.uniqueName("slow");
        var receiver = KafkaReceiver.create(ReceiverOptions.of(SharedKafka.settings(), group, List.of(topic),
                new StringDeserializer(), new StringDeserializer()).withMaxPollRecords(MAX_POLL_RECORDS));
        AtomicLong handedOut = new AtomicLong();
        AtomicLong processed = new AtomicLong();
        AtomicLong maxBuffered = new AtomicLong();
        int toProcess = 3000;

        long count = receiver.receive()
                .doOnNext(r -> handedOut.incrementAndGet())
                .publishOn(Schedulers.single(), PREFETCH)
                .doOnNext(r -> {
                    long buffered = handedOut.get() - processed.get() + receiver.queued();
                    maxBuffered.accumulateAndGet(buffered, Math::max);
                    LockSupport.parkNanos(200_000);
                    r.ack();
                    processed.incrementAndGet();
                })
                .take(toProcess)
                .count()
                .block(Duration.ofSeconds(60));

        assertEquals(toProcess, count);
        assertTrue(maxBuffered.get() <= MAX_POLL_RECORDS + PREFETCH,
                "buffered up to " + maxBuffered.get() + " records; bound " + (MAX_POLL_RECORDS + PREFETCH));
        assertTrue(maxBuffered.get() > 0);
        // each record was acked in partition order, so exactly the processed ones are committed on close
        assertEquals(toProcess, TestData.awaitCommittedSum(SharedKafka.broker().admin(), group, toProcess, Duration.ofSeconds(15)));
    }

    @Test
    void onlyTheContiguousAcknowledgedPrefixIsCommitted() throws Exception {
        String topic = SharedKafka.newTopic("acks", 1);
        TestData.fill(SharedKafka.bootstrapServers(), topic, 10);
        String group = SharedKafka.uniqueName("acks");
        var options = ReceiverOptions.of(SharedKafka.settings(), group, List.of(topic), new StringDeserializer(), new StringDeserializer());

        KafkaReceiver.create(options).receive()
                .take(6)
                .doOnNext(r -> {
                    if (r.record().offset() != 3) {
                        r.ack(); // 0,1,2 then a gap at 3, then 4,5
                    }
                })
                .blockLast(Duration.ofSeconds(30));

        assertEquals(3, TestData.awaitCommittedSum(SharedKafka.broker().admin(), group, 3, Duration.ofSeconds(10)));
        var next = KafkaReceiver.create(options).receive().take(1).doOnNext(ReceivedRecord::ack).blockLast(Duration.ofSeconds(30));
        assertEquals(3, next.record().offset(), "a restarted receiver resumes at the first unacknowledged record");
    }

    @Test
    void onlyCommittedTransactionsAreReceivedByDefault() {
        String topic = SharedKafka.newTopic("txn", 1);
        Map<String, Object> config = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, SharedKafka.bootstrapServers(),
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, SharedKafka.uniqueName("txn-producer"));
        try (var producer = new KafkaProducer<>(config, new StringSerializer(), new StringSerializer())) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, "aborted", "a1"));
            producer.send(new ProducerRecord<>(topic, "aborted", "a2"));
            producer.flush();
            producer.abortTransaction();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, "committed", "c1"));
            producer.send(new ProducerRecord<>(topic, "committed", "c2"));
            producer.commitTransaction();
        }
        var values = KafkaReceiver.create(ReceiverOptions.of(SharedKafka.settings(), SharedKafka.uniqueName("txn"),
                        List.of(topic), new StringDeserializer(), new StringDeserializer())).receive()
                .doOnNext(ReceivedRecord::ack)
                .map(ReceivedRecord::value)
                .take(2)
                .collectList()
                .block(Duration.ofSeconds(30));
        assertEquals(List.of("c1", "c2"), values);
    }

    /** A subscriber stalled 3× longer than max.poll.interval.ms must not cost the consumer its partitions. */
    @Test
    void aStalledSubscriberDoesNotExceedMaxPollInterval() {
        String topic = SharedKafka.newTopic("stall", 2);
        TestData.fill(SharedKafka.bootstrapServers(), topic, 20);
        AtomicInteger revokedOrLost = new AtomicInteger();
        List<TopicPartition> assigned = new ArrayList<>();
        var options = ReceiverOptions.of(SharedKafka.settings(), SharedKafka.uniqueName("stall"), List.of(topic),
                        new StringDeserializer(), new StringDeserializer())
                .withConsumerOverrides(Map.of(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, 1000))
                .withListener(new ConsumerRebalanceListener() {
                    @Override
                    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                        revokedOrLost.addAndGet(partitions.size());
                    }

                    @Override
                    public void onPartitionsLost(Collection<TopicPartition> partitions) {
                        revokedOrLost.addAndGet(partitions.size());
                    }

                    @Override
                    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                        assigned.addAll(partitions);
                    }
                });
        AtomicInteger seen = new AtomicInteger();
        long count = KafkaReceiver.create(options).receive()
                .publishOn(Schedulers.single(), 4)
                .doOnNext(r -> {
                    if (seen.getAndIncrement() == 0) {
                        LockSupport.parkNanos(Duration.ofSeconds(3).toNanos());
                    }
                    r.ack();
                })
                .take(20)
                .count()
                .block(Duration.ofSeconds(60));

        assertEquals(20, count);
        assertEquals(0, revokedOrLost.get(), "partitions were revoked or lost while the subscriber stalled");
        assertEquals(2, assigned.size(), "assigned once: " + assigned);
    }
}
