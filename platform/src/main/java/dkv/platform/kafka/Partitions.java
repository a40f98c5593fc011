package dkv.platform.kafka;

import java.util.Collection;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.apache.kafka.common.TopicPartition;

/** How partitions are written in dkv's log lines (rebalances, a worker's holdings). */
public final class Partitions {
    private Partitions() {}

    /** {@code dkv.work[0,5,7]}: one entry per topic, partitions in order, short enough for 24-partition logs. */
    public static String compact(Collection<TopicPartition> partitions) {
        return partitions.stream().collect(Collectors.groupingBy(TopicPartition::topic, TreeMap::new,
                        Collectors.mapping(TopicPartition::partition, Collectors.toCollection(TreeSet::new))))
                .entrySet().stream().map(e -> e.getKey() + e.getValue().toString().replace(" ", "")).collect(Collectors.joining(" "));
    }
}
