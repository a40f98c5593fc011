package dkv.platform.kafka;

import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Commits a batch's outputs and offsets in one Kafka transaction ({@code sendOffsetsToTransaction} with the
 * consumer's group metadata). Runs on the receiver's poll thread, so no rebalance can run while it does.
 */
@FunctionalInterface
public interface TransactionCommit {
    /**
     * @return true if the transaction committed; false if it was aborted and the batch must be read again
     *         (an exception stops the receiver's user: e.g. a fenced producer)
     */
    boolean commit(Map<TopicPartition, OffsetAndMetadata> offsets, ConsumerGroupMetadata group);
}
