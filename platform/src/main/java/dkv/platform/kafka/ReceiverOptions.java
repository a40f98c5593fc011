package dkv.platform.kafka;

import dkv.platform.config.KafkaSettings;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * What a {@link KafkaReceiver} consumes and how.
 *
 * @param maxPollRecords   records fetched per poll: with the downstream demand, the bound on records held
 * @param pollTimeout      how long one poll waits; also the longest delay before a cancel or a commit is seen
 * @param commitInterval   how often acknowledged offsets are committed (always on revocation and close)
 * @param listener         told about assignment changes after the receiver has committed; may be a no-op
 * @param consumerOverrides raw consumer settings applied last (e.g. {@code max.poll.interval.ms})
 */
public record ReceiverOptions<K, V>(KafkaSettings settings, String groupId, List<String> topics,
        Deserializer<K> keyDeserializer, Deserializer<V> valueDeserializer, int maxPollRecords,
        Duration pollTimeout, Duration commitInterval, ConsumerRebalanceListener listener,
        Map<String, Object> consumerOverrides) {

    public ReceiverOptions {
        Objects.requireNonNull(settings, "settings");
        if (groupId == null || groupId.isBlank()) {
            throw new IllegalArgumentException("receiver group id must not be blank");
        }
        if (topics.isEmpty()) {
            throw new IllegalArgumentException("receiver needs at least one topic");
        }
        if (maxPollRecords < 1) {
            throw new IllegalArgumentException("max poll records must be at least 1, got " + maxPollRecords);
        }
        topics = List.copyOf(topics);
        consumerOverrides = Map.copyOf(consumerOverrides);
    }

    public static <K, V> ReceiverOptions<K, V> of(KafkaSettings settings, String groupId, Collection<String> topics,
            Deserializer<K> keyDeserializer, Deserializer<V> valueDeserializer) {
        return new ReceiverOptions<>(settings, groupId, List.copyOf(topics), keyDeserializer, valueDeserializer,
                500, Duration.ofMillis(100), Duration.ofSeconds(1), NO_LISTENER, Map.of());
    }

    public ReceiverOptions<K, V> withMaxPollRecords(int records) {
        return new ReceiverOptions<>(settings, groupId, topics, keyDeserializer, valueDeserializer, records,
                pollTimeout, commitInterval, listener, consumerOverrides);
    }

    public ReceiverOptions<K, V> withCommitInterval(Duration interval) {
        return new ReceiverOptions<>(settings, groupId, topics, keyDeserializer, valueDeserializer, maxPollRecords,
                pollTimeout, interval, listener, consumerOverrides);
    }

    public ReceiverOptions<K, V> withListener(ConsumerRebalanceListener newListener) {
        return new ReceiverOptions<>(settings, groupId, topics, keyDeserializer, valueDeserializer, maxPollRecords,
                pollTimeout, commitInterval, newListener, consumerOverrides);
    }

    public ReceiverOptions<K, V> withConsumerOverrides(Map<String, Object> overrides) {
        return new ReceiverOptions<>(settings, groupId, topics, keyDeserializer, valueDeserializer, maxPollRecords,
                pollTimeout, commitInterval, listener, overrides);
    }

    static final ConsumerRebalanceListener NO_LISTENER = new ConsumerRebalanceListener() {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {}

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {}
    };
}
