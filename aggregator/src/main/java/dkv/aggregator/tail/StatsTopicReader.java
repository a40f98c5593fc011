package dkv.aggregator.tail;

import dkv.aggregator.service.TopicReplay;
import dkv.avro.StatsSnapshot;
import dkv.platform.config.KafkaSettings;
import dkv.schemas.AvroSerde;
import dkv.schemas.Topics;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads {@code dkv.stats} from the beginning and keeps the latest snapshot per experiment (the topic is compacted,
 * so what remains is mostly one per key). Not thread-safe: one thread owns it.
 */
public final class StatsTopicReader implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StatsTopicReader.class);

    private final TopicReplay replay;
    private final AvroSerde<StatsSnapshot> serde = AvroSerde.of(StatsSnapshot.class);
    private final Map<String, StatsSnapshot> latest = new LinkedHashMap<>();

    /** Reads {@link Topics#STATS}. */
    public StatsTopicReader(KafkaSettings settings, String clientSuffix) {
        this(settings, Topics.STATS, clientSuffix);
    }

    public StatsTopicReader(KafkaSettings settings, String topic, String clientSuffix) {
        this.replay = new TopicReplay(settings, topic, clientSuffix);
    }

    /** Polls once; returns whether any snapshot changed. */
    public boolean poll(Duration timeout) {
        boolean changed = false;
        for (ConsumerRecord<String, byte[]> record : replay.poll(timeout)) {
            if (record.value() == null) {
                changed |= latest.remove(record.key()) != null;
                continue;
            }
            try {
                StatsSnapshot snapshot = serde.decode(record.value());
                latest.put(snapshot.getExperimentId(), snapshot);
                changed = true;
            } catch (RuntimeException e) {
                log.warn("{}-{}@{}: not a StatsSnapshot, skipped: {}", record.topic(), record.partition(),
                        record.offset(), e.getMessage());
            }
        }
        return changed;
    }

    /** Reads up to where the topic ended when this reader opened; false if that took longer than {@code limit}. */
    public boolean readToEnd(Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!replay.caughtUp()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            poll(Duration.ofMillis(200));
        }
        return true;
    }

    public Map<String, StatsSnapshot> latest() {
        return latest;
    }

    public void wakeup() {
        replay.wakeup();
    }

    @Override
    public void close() {
        replay.close();
    }
}
