package dkv.platform.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.platform.testing.SharedKafka;
import dkv.schemas.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.junit.jupiter.api.Test;

class EmbeddedKafkaBrokerTest {
    @Test
    void createsTheDkvTopicsIdempotently() throws Exception {
        EmbeddedKafkaBroker broker = SharedKafka.broker();
        broker.createDkvTopics(Topics.DEFAULT_WORK_PARTITIONS);
        broker.createDkvTopics(Topics.DEFAULT_WORK_PARTITIONS); // existing topics are left alone
        var topics = broker.admin().describeTopics(List.of(Topics.WORK, Topics.SCORES, Topics.STATS, Topics.DEAD,
                        Topics.DOCS, Topics.SURROGATES)).allTopicNames().get();
        assertEquals(24, topics.get(Topics.WORK).partitions().size());
        assertEquals(24, topics.get(Topics.SCORES).partitions().size());
        assertEquals(1, topics.get(Topics.STATS).partitions().size());
        assertEquals(24, topics.get(Topics.DOCS).partitions().size());
        assertEquals(24, topics.get(Topics.SURROGATES).partitions().size());
        for (String compacted : List.of(Topics.STATS, Topics.SURROGATES)) {
            ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, compacted);
            var config = broker.admin().describeConfigs(List.of(resource)).all().get().get(resource);
            assertEquals(TopicConfig.CLEANUP_POLICY_COMPACT, config.get(TopicConfig.CLEANUP_POLICY_CONFIG).value(), compacted);
        }
        assertTrue(broker.bootstrapServers().startsWith("127.0.0.1:"));
    }

    @Test
    void aSecondBrokerGetsItsOwnPortAndItsTemporaryStorageIsDeletedOnClose() {
        Path dataDir;
        try (EmbeddedKafkaBroker second = EmbeddedKafkaBroker.start(EmbeddedKafkaBroker.Options.defaults()
                .withPort(0))) {
            dataDir = second.dataDir();
            assertTrue(Files.isDirectory(dataDir));
            assertFalse(second.bootstrapServers().equals(SharedKafka.bootstrapServers()));
            second.createTopic("only-here", 2);
        }
        assertFalse(Files.exists(dataDir), "temporary data directory removed: " + dataDir);
    }
}
