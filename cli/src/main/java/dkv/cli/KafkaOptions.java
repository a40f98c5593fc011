package dkv.cli;

import dkv.platform.config.KafkaSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * How a subcommand reaches Kafka; add it with {@code @Mixin KafkaOptions kafka;} and call
 * {@link #settings(String)}. The file is read first, {@code --kafka-property} pairs override it, and
 * {@code --bootstrap} overrides both.
 */
public final class KafkaOptions {

    @Option(names = "--bootstrap", paramLabel = "HOST:PORT[,HOST:PORT]",
            description = "Kafka bootstrap servers (or bootstrap.servers in --kafka-config)")
    String bootstrap;

    @Option(names = "--kafka-property", paramLabel = "KEY=VALUE",
            description = "a Kafka client setting passed through (security, timeouts, ...); repeatable")
    List<String> properties = new ArrayList<>();

    @Option(names = "--kafka-config", paramLabel = "FILE",
            description = "a properties file of Kafka client settings (e.g. SASL/SSL)")
    Path configFile;

    /** Validated settings; a bad setting throws IllegalArgumentException with a one-line reason. */
    public KafkaSettings settings(String clientId) {
        return KafkaSettings.parse(bootstrap, configFile, properties, clientId);
    }

    /** Whether any source names a bootstrap address (commands that can start an embedded broker ask this). */
    public boolean hasBootstrap() {
        return bootstrap != null || configFile != null
                || properties.stream().anyMatch(p -> p.startsWith("bootstrap.servers="));
    }
}
