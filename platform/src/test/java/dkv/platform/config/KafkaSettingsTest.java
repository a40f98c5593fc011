package dkv.platform.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KafkaSettingsTest {
    @TempDir
    Path dir;

    @Test
    void fileThenPairsThenExplicitBootstrapInIncreasingPrecedence() throws IOException {
        Path file = write("""
                # security for the cluster
                bootstrap.servers=file-host:9092
                security.protocol=SASL_SSL
                request.timeout.ms=1000
                """);
        KafkaSettings settings = KafkaSettings.parse(null, file, List.of("request.timeout.ms=2000", "isolation.level=read_committed"), "dkv");
        assertEquals("file-host:9092", settings.bootstrapServers());
        assertEquals("2000", settings.properties().get("request.timeout.ms"));

        KafkaSettings explicit = KafkaSettings.parse("a:1,b:2", file, List.of(), "dkv");
        assertEquals("a:1,b:2", explicit.bootstrapServers());
    }

    @Test
    void eachClientGetsOnlyTheSettingsItDefines() {
        KafkaSettings settings = new KafkaSettings("h:9092", "dkv",
                Map.of("isolation.level", "read_committed", "linger.ms", "7", "security.protocol", "SSL"));
        Map<String, Object> consumer = settings.consumer("g", "scorer", Map.of());
        Map<String, Object> producer = settings.producer("scorer", Map.of());
        assertEquals("read_committed", consumer.get("isolation.level"));
        assertFalse(consumer.containsKey("linger.ms"));
        assertEquals("7", producer.get("linger.ms"));
        assertFalse(producer.containsKey("isolation.level"));
        assertEquals("SSL", producer.get("security.protocol"));
        assertEquals("g", consumer.get("group.id"));
        assertEquals("dkv-scorer", consumer.get("client.id"));
        assertEquals(false, consumer.get("enable.auto.commit"));
        assertEquals("h:9092", settings.admin(null).get("bootstrap.servers"));
    }

    @Test
    void secretsAreHiddenFromTheStringForm() {
        KafkaSettings settings = new KafkaSettings("h:9092", "dkv", Map.of("sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p4ss\";",
                "ssl.truststore.password", "t0p", "security.protocol", "SASL_SSL"));
        String shown = settings.toString();
        assertFalse(shown.contains("p4ss") || shown.contains("t0p"), shown);
        assertTrue(shown.contains("SASL_SSL"), shown);
    }

    @Test
    void anUnknownKeyIsRejectedNamingFileAndLine() throws IOException {
        Path file = write("security.protocol=SSL\n\nlinger.msec=5\n");
        var error = assertThrows(IllegalArgumentException.class, () -> KafkaSettings.parse("h:1", file, List.of(), "dkv"));
        assertTrue(error.getMessage().contains("'linger.msec'"), error.getMessage());
        assertTrue(error.getMessage().contains(file + ":3"), error.getMessage());
    }

    @Test
    void aBadValueIsRejectedNamingTheSetting() {
        var error = assertThrows(IllegalArgumentException.class,
                () -> KafkaSettings.parse("h:1", null, List.of("request.timeout.ms=soon"), "dkv"));
        assertTrue(error.getMessage().contains("request.timeout.ms"), error.getMessage());
        assertTrue(error.getMessage().contains("--kafka-property request.timeout.ms=soon"), error.getMessage());
    }

    @Test
    void malformedInputIsRejected() throws IOException {
        assertThrows(IllegalArgumentException.class, () -> KafkaSettings.parse(null, null, List.of(), "dkv"), "no bootstrap");
        assertThrows(IllegalArgumentException.class, () -> KafkaSettings.of("localhost"), "no port");
        assertThrows(IllegalArgumentException.class, () -> KafkaSettings.of("h:70000"), "port out of range");
        assertThrows(IllegalArgumentException.class, () -> KafkaSettings.parse("h:1", null, List.of("novalue"), "dkv"));
        Path file = write("just words\n");
        var error = assertThrows(IllegalArgumentException.class, () -> KafkaSettings.parse("h:1", file, List.of(), "dkv"));
        assertTrue(error.getMessage().contains(file + ":1"), error.getMessage());
        var missing = assertThrows(IllegalArgumentException.class,
                () -> KafkaSettings.parse("h:1", dir.resolve("absent.properties"), List.of(), "dkv"));
        assertTrue(missing.getMessage().contains("absent.properties"), missing.getMessage());
        assertEquals("[::1]:9092", KafkaSettings.of("[::1]:9092").bootstrapServers());
    }

    private Path write(String text) throws IOException {
        Path file = dir.resolve("kafka-" + System.nanoTime() + ".properties");
        Files.writeString(file, text);
        return file;
    }
}
