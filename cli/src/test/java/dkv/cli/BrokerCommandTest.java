package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.schemas.Topics;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dkv broker} as a user runs it: a separate JVM, stopped with SIGTERM (what Ctrl-C's hook also runs). */
class BrokerCommandTest {

    @Test
    void printsItsBootstrapAddressServesTheDkvTopicsAndStopsOnSigterm(@TempDir Path dir) throws Exception {
        Path dataDir = dir.resolve("kafka-data");
        String java = ProcessHandle.current().info().command().orElse("java");
        Process process = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), Dkv.class.getName(),
                "broker", "--partitions", "3", "--data-dir", dataDir.toString())
                .redirectError(dir.resolve("broker.err").toFile())
                .start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            // bounded: a broker that hangs before printing fails this test instead of blocking the build
            String line = CompletableFuture.supplyAsync(() -> firstLine(out)).get(90, TimeUnit.SECONDS);
            assertNotNull(line, () -> "no output; stderr: " + read(dir.resolve("broker.err")));
            assertTrue(line.matches("bootstrap=127\\.0\\.0\\.1:\\d+"), line);
            String bootstrap = line.substring("bootstrap=".length());
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
                var topics = admin.describeTopics(List.of(Topics.WORK, Topics.SCORES, Topics.STATS, Topics.DEAD))
                        .allTopicNames().get(30, TimeUnit.SECONDS);
                assertEquals(3, topics.get(Topics.WORK).partitions().size());
                assertEquals(3, topics.get(Topics.SCORES).partitions().size());
            }
        } finally {
            process.destroy(); // SIGTERM
        }
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "broker stopped on SIGTERM");
        assertTrue(Files.exists(dataDir.resolve("meta.properties")), "an explicit --data-dir is kept");
    }

    private static String firstLine(BufferedReader out) {
        try {
            return out.readLine();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (Exception e) {
            return "(unreadable: " + e + ")";
        }
    }
}
