package dkv.platform.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Deserializer;

/** Reads a whole topic from the beginning without a group: what a test checks outputs with. */
public final class TopicReader {
    private TopicReader() {}

    public enum Isolation { READ_COMMITTED, READ_UNCOMMITTED }

    /** Every record up to the current end (the last stable offset when read_committed). */
    public static <K, V> List<ConsumerRecord<K, V>> readAll(String bootstrap, String topic, Isolation isolation,
            Deserializer<K> keys, Deserializer<V> values) {
        return readUntil(bootstrap, topic, isolation, keys, values, records -> true, Duration.ZERO);
    }

    /**
     * Reads from the beginning until {@code done} accepts what was read or {@code timeout} passes, then
     * returns everything up to the end offsets seen at that moment.
     */
    public static <K, V> List<ConsumerRecord<K, V>> readUntil(String bootstrap, String topic, Isolation isolation,
            Deserializer<K> keys, Deserializer<V> values, Predicate<List<ConsumerRecord<K, V>>> done, Duration timeout) {
        Map<String, Object> config = new HashMap<>();
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation.name().toLowerCase());
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        try (KafkaConsumer<K, V> consumer = new KafkaConsumer<>(config, keys, values)) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            List<ConsumerRecord<K, V>> records = new ArrayList<>();
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
                while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                    consumer.poll(Duration.ofMillis(100)).forEach(records::add);
                }
                if (done.test(records) || System.nanoTime() >= deadline) {
                    return records;
                }
                sleep();
            }
        }
    }

    private static void sleep() {
        try {
            Thread.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
