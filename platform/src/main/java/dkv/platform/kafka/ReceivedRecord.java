package dkv.platform.kafka;

import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * A consumed record and its acknowledgement. {@link #ack()} marks it processed; the receiver commits a
 * partition's offset only up to the first record not yet acknowledged. An ack after the partition was
 * revoked from this consumer is ignored (the record will be delivered again to the new owner).
 */
public final class ReceivedRecord<K, V> {
    private final ConsumerRecord<K, V> record;
    private final OffsetTracker tracker;

    ReceivedRecord(ConsumerRecord<K, V> record, OffsetTracker tracker) {
        this.record = record;
        this.tracker = tracker;
    }

    public ConsumerRecord<K, V> record() {
        return record;
    }

    public K key() {
        return record.key();
    }

    public V value() {
        return record.value();
    }

    public void ack() {
        tracker.acknowledge(record.offset());
    }
}
