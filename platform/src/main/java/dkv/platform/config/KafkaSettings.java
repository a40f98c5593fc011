package dkv.platform.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * How every dkv client reaches Kafka: the bootstrap servers, a client id prefix, and pass-through client
 * properties (security, timeouts, ...) from a properties file and {@code k=v} pairs. Validated when built,
 * the way Kafka's own {@code ConfigDef} does it: an unknown key or a bad value fails before the first
 * record, with a message naming where the setting came from.
 *
 * <p>Each client gets only the pass-through keys its own configuration defines, so a consumer-only
 * setting never reaches a producer (no "unknown config" warnings).
 */
public record KafkaSettings(String bootstrapServers, String clientId, Map<String, String> properties) {

    private static final Pattern HOST_PORT = Pattern.compile("^(\\[[0-9a-fA-F:.]+]|[^:\\s\\[\\]]+):(\\d{1,5})$");

    public KafkaSettings {
        bootstrapServers = validateBootstrap(bootstrapServers);
        if (clientId == null || clientId.isBlank()) {
            throw new IllegalArgumentException("kafka client id must not be blank");
        }
        properties = Map.copyOf(properties);
        for (String key : properties.keySet()) {
            if (key.equals(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG)) {
                throw new IllegalArgumentException("kafka property bootstrap.servers: give it as the bootstrap address, not as a pass-through property");
            }
            if (!isClientSetting(key)) {
                throw new IllegalArgumentException("kafka property '" + key + "' is not a Kafka consumer, producer or admin setting");
            }
        }
        checkValues(bootstrapServers, properties);
    }

    public static KafkaSettings of(String bootstrapServers) {
        return new KafkaSettings(bootstrapServers, "dkv", Map.of());
    }

    /**
     * Merges the sources in increasing precedence: the properties file, then {@code k=v} pairs, then an
     * explicit bootstrap address. The bootstrap address may also come from either source as
     * {@code bootstrap.servers}.
     *
     * @param bootstrap  explicit bootstrap servers, or null
     * @param configFile a Java properties file, or null
     * @param pairs      {@code key=value} strings, e.g. from repeated {@code --kafka-property}
     */
    public static KafkaSettings parse(String bootstrap, Path configFile, List<String> pairs, String clientId) {
        Map<String, String> merged = new LinkedHashMap<>();
        Map<String, String> origin = new HashMap<>();
        if (configFile != null) {
            readPropertiesFile(configFile, merged, origin);
        }
        for (String pair : pairs) {
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("kafka property '" + pair + "': expected key=value");
            }
            String key = pair.substring(0, eq).strip();
            merged.put(key, pair.substring(eq + 1).strip());
            origin.put(key, "--kafka-property " + pair);
        }
        String servers = bootstrap != null ? bootstrap : merged.get(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG);
        merged.remove(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG);
        if (servers == null) {
            throw new IllegalArgumentException("no Kafka bootstrap servers: give --bootstrap host:port (or bootstrap.servers in the Kafka config file)");
        }
        try {
            return new KafkaSettings(servers, clientId, merged);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(withOrigin(e.getMessage(), origin), e);
        }
    }

    /** Consumer configuration: pass-through properties, then dkv's choices, then {@code overrides}. */
    public Map<String, Object> consumer(String groupId, String clientSuffix, Map<String, ?> overrides) {
        Map<String, Object> config = common(ConsumerConfig.configNames(), clientSuffix);
        if (groupId != null) {
            config.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        }
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        config.putAll(overrides);
        return config;
    }

    public Map<String, Object> producer(String clientSuffix, Map<String, ?> overrides) {
        Map<String, Object> config = common(ProducerConfig.configNames(), clientSuffix);
        config.putAll(overrides);
        return config;
    }

    public Map<String, Object> admin(String clientSuffix) {
        return common(AdminClientConfig.configNames(), clientSuffix);
    }

    private Map<String, Object> common(Set<String> known, String clientSuffix) {
        Map<String, Object> config = new HashMap<>();
        properties.forEach((key, value) -> {
            if (known.contains(key)) {
                config.put(key, value);
            }
        });
        config.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        config.put(CommonClientConfigs.CLIENT_ID_CONFIG, clientSuffix == null ? clientId : clientId + "-" + clientSuffix);
        return config;
    }

    /** Secrets (passwords, JAAS configs, keys) never reach logs through this record's string form. */
    @Override
    public String toString() {
        Map<String, String> shown = new java.util.TreeMap<>();
        properties.forEach((key, value) -> shown.put(key, isSecret(key) ? "[hidden]" : value));
        return "KafkaSettings[bootstrapServers=" + bootstrapServers + ", clientId=" + clientId + ", properties=" + shown + "]";
    }

    private static boolean isSecret(String key) {
        return key.contains("password") || key.contains("jaas") || key.contains("secret") || key.endsWith(".key");
    }

    private static boolean isClientSetting(String key) {
        return ConsumerConfig.configNames().contains(key) || ProducerConfig.configNames().contains(key)
                || AdminClientConfig.configNames().contains(key);
    }

    /** Lets each client's ConfigDef parse the values it owns, so a bad type or range fails here. */
    private static void checkValues(String bootstrapServers, Map<String, String> properties) {
        Map<String, Object> base = new HashMap<>(properties);
        base.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        try {
            Map<String, Object> consumer = only(ConsumerConfig.configNames(), base);
            consumer.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
            consumer.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
            new ConsumerConfig(consumer);
            Map<String, Object> producer = only(ProducerConfig.configNames(), base);
            producer.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
            producer.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
            new ProducerConfig(producer);
            new AdminClientConfig(only(AdminClientConfig.configNames(), base));
        } catch (ConfigException e) {
            throw new IllegalArgumentException("kafka property " + e.getMessage(), e);
        }
    }

    private static Map<String, Object> only(Set<String> known, Map<String, Object> all) {
        Map<String, Object> selected = new HashMap<>();
        all.forEach((key, value) -> {
            if (known.contains(key)) {
                selected.put(key, value);
            }
        });
        return selected;
    }

    private static String validateBootstrap(String servers) {
        if (servers == null || servers.isBlank()) {
            throw new IllegalArgumentException("kafka bootstrap servers must not be empty (expected host:port[,host:port...])");
        }
        String trimmed = servers.strip();
        for (String server : trimmed.split(",")) {
            var matcher = HOST_PORT.matcher(server.strip());
            if (!matcher.matches() || Integer.parseInt(matcher.group(2)) == 0 || Integer.parseInt(matcher.group(2)) > 65535) {
                throw new IllegalArgumentException("kafka bootstrap server '" + server.strip() + "' is not host:port (port 1..65535)");
            }
        }
        return trimmed;
    }

    private static void readPropertiesFile(Path file, Map<String, String> merged, Map<String, String> origin) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("kafka config file " + file + ": cannot read (" + e.getMessage() + ")", e);
        }
        // line by line (not java.util.Properties) so every error can name file:line
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#") || line.startsWith("!")) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("kafka config file " + file + ":" + (i + 1) + ": expected key=value, got '" + line + "'");
            }
            String key = line.substring(0, eq).strip();
            merged.put(key, line.substring(eq + 1).strip());
            origin.put(key, file + ":" + (i + 1));
        }
    }

    private static String withOrigin(String message, Map<String, String> origin) {
        for (var entry : origin.entrySet()) {
            if (message.contains(entry.getKey())) {
                return message + " (from " + entry.getValue() + ")";
            }
        }
        return message;
    }
}
