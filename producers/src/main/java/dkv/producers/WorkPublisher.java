package dkv.producers;

import dkv.avro.WorkItem;
import dkv.platform.config.KafkaSettings;
import dkv.platform.kafka.KafkaSender;
import dkv.platform.kafka.TopicLayout;
import dkv.schemas.AvroSerde;
import dkv.schemas.Topics;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Writes a WorkPlan's items to the work topic: creates the dkv topics if missing, then sends with at most
 * {@code maxInFlight} unacknowledged records (the broker's pace is the producer's pace), counting
 * acknowledgements into {@link Progress}. Keys are {@code experiment_id/sample_id}, so re-running a plan
 * writes the same keys again and consumers de-duplicate by key.
 */
public final class WorkPublisher {
    private final KafkaSettings settings;
    private final String topic;
    private final int workPartitions;
    private final int maxInFlight;

    public WorkPublisher(KafkaSettings settings, String topic, int workPartitions, int maxInFlight) {
        this.settings = settings;
        this.topic = topic;
        this.workPartitions = workPartitions;
        this.maxInFlight = maxInFlight;
    }

    public static WorkPublisher defaults(KafkaSettings settings) {
        return new WorkPublisher(settings, Topics.WORK, Topics.DEFAULT_WORK_PARTITIONS, 256);
    }

    /** Creates whichever dkv topics (and the work topic, if renamed) are missing; returns those created. */
    public List<String> ensureTopics(short replicationFactor) {
        try (Admin admin = Admin.create(settings.admin("produce-admin"))) {
            return TopicLayout.ensure(admin, topicsToEnsure(replicationFactor));
        }
    }

    /**
     * The dkv layout, with {@code workPartitions} for the topic this publisher writes. A renamed work topic
     * takes them alone: the standard topics then get the default, or producing one small side topic would
     * leave {@code dkv.work} with a partition count that caps every scorer group after it.
     */
    List<NewTopic> topicsToEnsure(short replicationFactor) {
        if (topic.equals(Topics.WORK)) {
            return TopicLayout.dkv(workPartitions, replicationFactor);
        }
        List<NewTopic> topics = new ArrayList<>(TopicLayout.dkv(Topics.DEFAULT_WORK_PARTITIONS, replicationFactor));
        topics.add(new NewTopic(topic, workPartitions, replicationFactor));
        return topics;
    }

    /** Sends every item; returns the number acknowledged. Blocks until the last acknowledgement. */
    public long publish(WorkPlan work, Progress progress) {
        AvroSerde<WorkItem> serde = AvroSerde.of(WorkItem.class);
        try (KafkaSender<String, WorkItem> sender = KafkaSender.create(settings, "produce", new StringSerializer(),
                serde, maxInFlight, Map.of())) {
            Long sent = sender.send(work.items().map(kw -> new KafkaSender.Outgoing<>(
                            new ProducerRecord<>(topic, kw.key(), kw.item()), kw.key())))
                    .doOnNext(ack -> progress.advance())
                    .count()
                    .block();
            return sent == null ? 0 : sent;
        }
    }
}
