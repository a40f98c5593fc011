package dkv.platform.kafka;

import dkv.schemas.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TopicExistsException;

/** The dkv topics and how to create them on any cluster (embedded or real) without failing if they exist. */
public final class TopicLayout {
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(30);
    private TopicLayout() {}

    /**
     * Work and scores get {@code workPartitions} partitions so that many scorers (and producers) run in
     * parallel; stats is compacted by experiment so a reader joining late gets the latest snapshot of each.
     * Documents awaiting surrogates get as many partitions as the work, so generator workers scale the same way;
     * surrogates are compacted by experiment/sample/name: the latest answer per key is the producer's join state.
     */
    public static List<NewTopic> dkv(int workPartitions, short replicationFactor) {
        if (workPartitions < 1) {
            throw new IllegalArgumentException("work partitions must be at least 1, got " + workPartitions);
        }
        return List.of(
                new NewTopic(Topics.WORK, workPartitions, replicationFactor),
                new NewTopic(Topics.SCORES, workPartitions, replicationFactor),
                new NewTopic(Topics.STATS, 1, replicationFactor)
                        .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT)),
                new NewTopic(Topics.DEAD, 1, replicationFactor),
                new NewTopic(Topics.DOCS, workPartitions, replicationFactor),
                new NewTopic(Topics.SURROGATES, workPartitions, replicationFactor)
                        .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT)));
    }

    /**
     * Creates the topics that do not exist yet (existing ones are left as they are) and waits until every
     * partition of the new ones has a leader that serves requests. Returns the names created.
     */
    public static List<String> ensure(Admin admin, Collection<NewTopic> topics) {
        List<String> created = new ArrayList<>();
        var result = admin.createTopics(topics);
        for (NewTopic topic : topics) {
            try {
                result.values().get(topic.name()).get();
                created.add(topic.name());
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw new IllegalStateException("cannot create topic " + topic.name() + ": " + e.getCause().getMessage(), e.getCause());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while creating topic " + topic.name(), e);
            }
        }
        awaitLeaders(admin, created);
        return created;
    }

    /**
     * A freshly created partition's leader may answer produce requests with NOT_LEADER_OR_FOLLOWER for a
     * moment; an idempotent producer whose first batch hits that while later batches succeed is then stuck
     * with an out-of-order sequence until its delivery timeout. ListOffsets is served by the partition
     * leader only (the admin client retries until it is), so its success means the topic is writable.
     */
    static void awaitLeaders(Admin admin, Collection<String> topicNames) {
        if (topicNames.isEmpty()) {
            return;
        }
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (true) {
            try {
                Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
                admin.describeTopics(topicNames).allTopicNames().get(READY_TIMEOUT.toSeconds(), TimeUnit.SECONDS)
                        .forEach((name, description) -> description.partitions().forEach(
                                p -> latest.put(new TopicPartition(name, p.partition()), OffsetSpec.latest())));
                admin.listOffsets(latest).all().get(READY_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                return;
            } catch (ExecutionException e) {
                // the admin client gives up on some retriable errors (e.g. an unknown partition) at once
                if (!(e.getCause() instanceof RetriableException) || System.nanoTime() > deadline) {
                    throw notReady(topicNames, e);
                }
            } catch (TimeoutException e) {
                throw notReady(topicNames, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for topics " + topicNames, e);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for topics " + topicNames, e);
            }
        }
    }

    private static IllegalStateException notReady(Collection<String> topicNames, Exception e) {
        Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
        return new IllegalStateException("topics " + topicNames + " have no serving leader after " + READY_TIMEOUT + ": " + cause, cause);
    }
}
