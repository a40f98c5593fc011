package dkv.platform.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class PartitionsTest {

    @Test
    void rebalanceLogsNameEachTopicOnceWithItsPartitionsInOrder() {
        assertEquals("dkv.dead[0] dkv.work[0,2,11]", Partitions.compact(List.of(new TopicPartition("dkv.work", 11),
                new TopicPartition("dkv.work", 0), new TopicPartition("dkv.dead", 0), new TopicPartition("dkv.work", 2))));
        assertEquals("", Partitions.compact(List.of()));
    }
}
