package dkv.platform.kafka;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * One poll's records, handed out by {@link KafkaReceiver#receiveBatches()} to be processed as a unit and committed
 * with {@link KafkaReceiver#commit}. A rebalance that moves any partition with records in flight (or a failed
 * commit) invalidates every batch not yet committed: {@link #isValid()} turns false, the commit is refused, and the
 * records are read again (by this consumer for the partitions it keeps, by the new owner for the others).
 */
public final class ReceivedBatch<K, V> {
    private final List<ConsumerRecord<K, V>> records;
    private final Map<TopicPartition, Long> firstOffsets;
    private final Map<TopicPartition, OffsetAndMetadata> nextOffsets;
    private volatile boolean valid = true;

    ReceivedBatch(ConsumerRecords<K, V> polled) {
        Map<TopicPartition, Long> first = new HashMap<>();
        Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
        java.util.ArrayList<ConsumerRecord<K, V>> all = new java.util.ArrayList<>(polled.count());
        for (ConsumerRecord<K, V> record : polled) {
            TopicPartition tp = new TopicPartition(record.topic(), record.partition());
            first.putIfAbsent(tp, record.offset());
            next.put(tp, new OffsetAndMetadata(record.offset() + 1));
            all.add(record);
        }
        this.records = List.copyOf(all);
        this.firstOffsets = Map.copyOf(first);
        this.nextOffsets = Map.copyOf(next);
    }

    public List<ConsumerRecord<K, V>> records() {
        return records;
    }

    /** The offsets that committing this batch commits: per partition, the one after its last record. */
    public Map<TopicPartition, OffsetAndMetadata> nextOffsets() {
        return nextOffsets;
    }

    /** Where each partition's records start: where to read again if the batch is not committed. */
    Map<TopicPartition, Long> firstOffsets() {
        return firstOffsets;
    }

    public Set<TopicPartition> partitions() {
        return firstOffsets.keySet();
    }

    /** False once a rebalance or a failed commit means this batch will be read again: don't spend work on it. */
    public boolean isValid() {
        return valid;
    }

    void invalidate() {
        valid = false;
    }
}
