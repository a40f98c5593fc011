package dkv.aggregator.service;

import dkv.platform.config.KafkaSettings;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads a whole topic from its beginning, committed transactions only, without a consumer group: the readers
 * of dkv.scores and dkv.stats derive their state from the full log, so a restart replays rather than resumes.
 * Not thread-safe: one thread owns it.
 */
public final class TopicReplay implements AutoCloseable {
    private static final Duration METADATA_TIMEOUT = Duration.ofSeconds(30);

    private final KafkaConsumer<String, byte[]> consumer;
    private final String topic;
    private final Map<TopicPartition, Long> endAtStart;

    public TopicReplay(KafkaSettings settings, String topic, String clientSuffix) {
        Map<String, Object> overrides = new HashMap<>();
        overrides.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        overrides.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 2000);
        this.consumer = new KafkaConsumer<>(settings.consumer(null, clientSuffix, overrides),
                new StringDeserializer(), new ByteArrayDeserializer());
        this.topic = topic;
        List<PartitionInfo> partitions;
        try {
            partitions = consumer.partitionsFor(topic, METADATA_TIMEOUT);
        } catch (KafkaException e) {
            consumer.close();
            throw new IllegalStateException("cannot read the partitions of topic " + topic + " from "
                    + settings.bootstrapServers() + " within " + METADATA_TIMEOUT.toSeconds() + " s: " + e.getMessage(), e);
        }
        if (partitions == null || partitions.isEmpty()) {
            consumer.close();
            throw new IllegalStateException("topic " + topic + " does not exist on " + settings.bootstrapServers());
        }
        List<TopicPartition> assigned = partitions.stream().map(p -> new TopicPartition(topic, p.partition())).toList();
        consumer.assign(assigned);
        consumer.seekToBeginning(assigned);
        this.endAtStart = consumer.endOffsets(assigned);
    }

    public ConsumerRecords<String, byte[]> poll(Duration timeout) {
        return consumer.poll(timeout);
    }

    /** True once every partition was read up to where it ended when this reader started. */
    public boolean caughtUp() {
        for (var end : endAtStart.entrySet()) {
            if (consumer.position(end.getKey()) < end.getValue()) {
                return false;
            }
        }
        return true;
    }

    public String topic() {
        return topic;
    }

    /** Interrupts a blocking poll from another thread. */
    public void wakeup() {
        consumer.wakeup();
    }

    @Override
    public void close() {
        consumer.close(Duration.ofSeconds(5));
    }
}
