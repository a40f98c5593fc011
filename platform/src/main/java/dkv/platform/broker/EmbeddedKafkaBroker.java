package dkv.platform.broker;

import dkv.platform.kafka.TopicLayout;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Exit;
import org.apache.kafka.common.utils.Time;

/**
 * A single-node KRaft Kafka (broker and controller in one process) running inside this JVM on loopback.
 * For tests and the {@code dkv} launcher only: service code talks to any cluster through its bootstrap
 * address and never depends on this class (kafka_2.13 is an optional dependency of platform).
 *
 * <p>Sized for one machine: replication factor 1 everywhere, few internal partitions, a 2 MiB log-cleaner
 * buffer instead of the default 128 MiB.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {

    /**
     * @param port        client port; 0 picks a free one
     * @param dataDir     log directory; null makes a temporary one that {@link #close()} deletes
     * @param properties  extra broker properties, applied last
     */
    public record Options(int port, Path dataDir, Map<String, String> properties) {
        public Options {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("broker port must be 0..65535, got " + port);
            }
            properties = Map.copyOf(properties);
        }

        public static Options defaults() {
            return new Options(0, null, Map.of());
        }

        public Options withPort(int newPort) {
            return new Options(newPort, dataDir, properties);
        }

        public Options withDataDir(Path dir) {
            return new Options(port, dir, properties);
        }
    }

    private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);

    private final KafkaRaftServer server;
    private final String bootstrapServers;
    private final Path dataDir;
    private final boolean ownsDataDir;
    private final Admin admin;
    private volatile boolean closed;

    private EmbeddedKafkaBroker(KafkaRaftServer server, String bootstrapServers, Path dataDir, boolean ownsDataDir) {
        this.server = server;
        this.bootstrapServers = bootstrapServers;
        this.dataDir = dataDir;
        this.ownsDataDir = ownsDataDir;
        this.admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                AdminClientConfig.CLIENT_ID_CONFIG, "dkv-embedded-admin"));
    }

    public static EmbeddedKafkaBroker start() {
        return start(Options.defaults());
    }

    /** Formats the storage if needed, starts the node and returns once it answers a cluster description. */
    public static EmbeddedKafkaBroker start(Options options) {
        throwInsteadOfExiting();
        boolean ownsDataDir = options.dataDir() == null;
        Path dataDir = ownsDataDir ? createTempDir() : options.dataDir().toAbsolutePath();
        try {
            Files.createDirectories(dataDir);
            int port = options.port() == 0 ? freePort() : options.port();
            int controllerPort = freePort();
            Properties props = brokerProperties(port, controllerPort, dataDir, options.properties());
            format(props, dataDir);
            KafkaRaftServer server = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
            server.startup();
            var broker = new EmbeddedKafkaBroker(server, "127.0.0.1:" + port, dataDir, ownsDataDir);
            broker.awaitReady();
            return broker;
        } catch (IOException e) {
            if (ownsDataDir) {
                deleteRecursively(dataDir);
            }
            throw new UncheckedIOException("embedded Kafka: cannot prepare " + dataDir, e);
        } catch (RuntimeException e) {
            if (ownsDataDir) {
                deleteRecursively(dataDir);
            }
            throw e;
        }
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    public Path dataDir() {
        return dataDir;
    }

    /** An admin client of this broker, owned by the broker (do not close it). */
    public Admin admin() {
        return admin;
    }

    /** Creates the topics that do not exist yet. */
    public void createTopics(Collection<NewTopic> topics) {
        TopicLayout.ensure(admin, topics);
    }

    public void createTopic(String name, int partitions) {
        createTopics(List.of(new NewTopic(name, partitions, (short) 1)));
    }

    /** The dkv topics: work and scores with {@code workPartitions} partitions, compacted stats, dead letters. */
    public void createDkvTopics(int workPartitions) {
        createTopics(TopicLayout.dkv(workPartitions, (short) 1));
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        admin.close(Duration.ofSeconds(5));
        server.shutdown();
        server.awaitShutdown();
        if (ownsDataDir) {
            deleteRecursively(dataDir);
        }
    }

    private void awaitReady() {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        RuntimeException last = null;
        while (System.nanoTime() < deadline) {
            try {
                if (!admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).isEmpty()) {
                    return;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                close();
                throw new IllegalStateException("interrupted while waiting for the embedded broker", e);
            } catch (Exception e) {
                last = new IllegalStateException(e.getMessage(), e);
            }
            sleep(100);
        }
        close();
        throw new IllegalStateException("embedded Kafka at " + bootstrapServers + " not ready after " + READY_TIMEOUT, last);
    }

    private static Properties brokerProperties(int port, int controllerPort, Path dataDir, Map<String, String> extra) {
        Properties p = new Properties();
        p.put("process.roles", "broker,controller");
        p.put("node.id", "1");
        p.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        p.put("listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
        p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
        p.put("controller.listener.names", "CONTROLLER");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("log.dirs", dataDir.toString());
        p.put("num.partitions", "1");
        p.put("auto.create.topics.enable", "false");
        p.put("offsets.topic.replication.factor", "1");
        p.put("offsets.topic.num.partitions", "4");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("transaction.state.log.num.partitions", "4");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        p.put("group.initial.rebalance.delay.ms", "0");
        p.put("log.cleaner.dedupe.buffer.size", "2097152");
        p.putAll(extra);
        return p;
    }

    private static void format(Properties props, Path dataDir) throws IOException {
        Path config = dataDir.resolve("dkv-embedded-server.properties");
        try (OutputStream out = Files.newOutputStream(config)) {
            props.store(out, "dkv embedded broker");
        }
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        int rc;
        try (PrintStream out = new PrintStream(log, true, StandardCharsets.UTF_8)) {
            rc = StorageTool.execute(new String[] {"format", "-t", Uuid.randomUuid().toString(),
                    "-c", config.toString(), "--ignore-formatted"}, out);
        }
        if (rc != 0) {
            throw new IllegalStateException("embedded Kafka: formatting " + dataDir + " failed: " + log.toString(StandardCharsets.UTF_8).strip());
        }
    }

    /** A broker fault calls Exit.exit/halt; inside an application that must throw, not end the JVM. */
    private static void throwInsteadOfExiting() {
        Exit.setExitProcedure((code, message) -> {
            throw new IllegalStateException("embedded Kafka requested exit " + code + ": " + message);
        });
        Exit.setHaltProcedure((code, message) -> {
            throw new IllegalStateException("embedded Kafka requested halt " + code + ": " + message);
        });
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        }
    }

    private static Path createTempDir() {
        try {
            return Files.createTempDirectory("dkv-kafka-");
        } catch (IOException e) {
            throw new UncheckedIOException("embedded Kafka: cannot create a temporary data directory", e);
        }
    }

    private static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            System.err.println("embedded Kafka: could not delete " + dir + ": " + e.getMessage());
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
