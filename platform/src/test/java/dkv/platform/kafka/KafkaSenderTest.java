package dkv.platform.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.platform.testing.SharedKafka;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;

class KafkaSenderTest {
    @Test
    void aStreamOfSendsNeverHasMoreThanMaxInFlightUnacknowledged() throws Exception {
        String topic = SharedKafka.newTopic("sender", 3);
        int records = 5000;
        int maxInFlight = 16;
        AtomicLong pulled = new AtomicLong();
        AtomicLong acknowledged = new AtomicLong();
        AtomicLong maxInFlightSeen = new AtomicLong();
        try (var sender = KafkaSender.create(SharedKafka.settings(), "sender-test", new StringSerializer(),
                new StringSerializer(), maxInFlight, Map.of())) {
            Flux<KafkaSender.Outgoing<String, String, Integer>> source = Flux.range(0, records)
                    .map(i -> new KafkaSender.Outgoing<>(new ProducerRecord<>(topic, "k" + i, "v" + i), i))
                    .doOnNext(o -> maxInFlightSeen.accumulateAndGet(pulled.incrementAndGet() - acknowledged.get(), Math::max));
            long sent = sender.send(source)
                    .doOnNext(s -> acknowledged.incrementAndGet())
                    .count()
                    .block(Duration.ofSeconds(60));
            assertEquals(records, sent);
        }
        assertTrue(maxInFlightSeen.get() <= maxInFlight, "in flight up to " + maxInFlightSeen.get());
        assertEquals(records, TestData.endOffsetSum(SharedKafka.broker().admin(), topic, 3));
    }

    @Test
    void aFailedSendEndsTheStreamWithItsError() {
        try (var sender = KafkaSender.create(SharedKafka.settings(), "sender-fail", new StringSerializer(),
                new StringSerializer(), 4, Map.of("max.block.ms", 1000))) {
            var error = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class,
                    () -> sender.send(new ProducerRecord<>("no-such-topic-" + System.nanoTime(), "k", "v")).block(Duration.ofSeconds(20)));
            assertTrue(error.getMessage().contains("not present in metadata"), error.getMessage());
        }
    }
}
