package dkv.platform.testing;

import dkv.platform.broker.EmbeddedKafkaBroker;
import dkv.platform.config.KafkaSettings;
import dkv.schemas.Topics;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One embedded broker per test JVM, started on first use (~2 s) and stopped by a shutdown hook, so every
 * test class of every module can share it. Tests isolate themselves with {@link #uniqueName(String)}
 * topics and group ids instead of restarting the broker. The dkv topics exist from the start, with the
 * default layout.
 */
public final class SharedKafka {
    private static final AtomicInteger COUNTER = new AtomicInteger();
    private static EmbeddedKafkaBroker broker;

    private SharedKafka() {}

    public static synchronized EmbeddedKafkaBroker broker() {
        if (broker == null) {
            EmbeddedKafkaBroker started = EmbeddedKafkaBroker.start();
            // The standard topics get their production layout before any test runs: whichever test first
            // created dkv.work would otherwise fix its partition count for every later test in this JVM.
            started.createDkvTopics(Topics.DEFAULT_WORK_PARTITIONS);
            Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("dkv-shared-kafka-stop").unstarted(started::close));
            broker = started;
        }
        return broker;
    }

    public static String bootstrapServers() {
        return broker().bootstrapServers();
    }

    public static KafkaSettings settings() {
        return KafkaSettings.of(bootstrapServers());
    }

    /** A name no other test in this JVM uses, e.g. for a topic or a consumer group. */
    public static String uniqueName(String prefix) {
        return prefix + "-" + ProcessHandle.current().pid() + "-" + COUNTER.incrementAndGet();
    }

    /** Creates a fresh topic with a unique name and returns the name. */
    public static String newTopic(String prefix, int partitions) {
        String name = uniqueName(prefix);
        broker().createTopic(name, partitions);
        return name;
    }
}
