package dkv.cli;

import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.kafka.KafkaContainer;

/** The same end-to-end assertions against the official image; skipped where Docker is not available. */
@Testcontainers(disabledWithoutDocker = true)
class ContainerEndToEndTest extends EndToEndContract {
    @Container
    static final KafkaContainer KAFKA = new KafkaContainer("apache/kafka:4.3.1");

    @Override
    protected String bootstrapServers() {
        return KAFKA.getBootstrapServers();
    }
}
