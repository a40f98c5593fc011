package dkv.cli;

import dkv.aggregator.service.TopicReplay;
import dkv.avro.ScoreRecord;
import dkv.platform.config.KafkaSettings;
import dkv.schemas.AvroSerde;
import dkv.schemas.Topics;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.errors.WakeupException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Copies the committed ScoreRecords of a topic into the JSON lines {@code dkv score} writes, so a streamed
 * experiment can be compared with offline scoring or fed to {@code dkv aggregate --scores}. It reads every
 * partition from the beginning without a consumer group and commits nothing, so it can run any number of
 * times, also while scorers are still writing.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Write the committed ScoreRecords of dkv.scores as the JSON lines dkv score writes.")
public final class ExportCommand implements Callable<Integer> {
    private static final Duration POLL = Duration.ofMillis(200);
    private static final Duration METADATA_TIMEOUT = Duration.ofSeconds(30);
    private static final int WARNED_UNDECODABLE = 5;

    @Spec
    CommandSpec spec;

    @Mixin
    KafkaOptions kafka;

    @Option(names = "--topic", defaultValue = Topics.SCORES, paramLabel = "TOPIC", description = "default ${DEFAULT-VALUE}")
    String topic;

    @Option(names = "--experiment", paramLabel = "ID", description = "only this experiment's records (default: all)")
    String experiment;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "output JSON lines")
    Path out;

    @Option(names = "--expect", paramLabel = "N",
            description = "wait for N records; exit 1 unless exactly N were written (more than N, or fewer when the topic goes idle or time runs out)")
    Long expect;

    @Option(names = "--idle-timeout-ms", defaultValue = "10000", paramLabel = "MS",
            description = "stop when no record arrives for this long after reading what the topic held at start (default: ${DEFAULT-VALUE})")
    long idleTimeoutMillis;

    @Option(names = "--timeout-ms", defaultValue = "0", paramLabel = "MS",
            description = "stop after this long whatever arrives (default: ${DEFAULT-VALUE}, no limit)")
    long timeoutMillis;

    /** Why the copy stopped. */
    enum Stop {
        /** --expect N records written and the topic's records at start all read. */
        EXPECTED,
        /** Read to where the topic ended at start, then no record for the idle timeout. */
        IDLE,
        /** No record for the idle timeout before reaching where the topic ended at start: the broker stalls. */
        STALLED,
        TIMED_OUT,
        INTERRUPTED
    }

    /** What was copied. {@code reachedStartEnd}: every partition was read up to its end offset at start. */
    record Copied(long written, long undecodable, long duplicateKeys, boolean reachedStartEnd, Stop stop) {}

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter err = spec.commandLine().getErr();
        try {
            validate();
            KafkaSettings settings = kafka.settings("dkv-export");
            int partitions = partitionCount(settings);
            createParentDirectory();
            try (TopicReplay replay = new TopicReplay(settings, topic, "export")) {
                // Ctrl-C on a long export: stop polling, and hold the JVM until the file is flushed and summarised
                CountDownLatch summarised = new CountDownLatch(1);
                Thread stopOnSignal = Thread.ofPlatform().name("dkv-export-stop").unstarted(() -> {
                    replay.wakeup();
                    awaitQuietly(summarised);
                });
                Runtime.getRuntime().addShutdownHook(stopOnSignal);
                try {
                    Copied copied = copy(replay, err);
                    String of = experiment == null ? "" : " of experiment " + experiment;
                    err.printf("dkv export: wrote %d records%s from %s (%d partitions) to %s; %d undecodable, %d duplicate keys%n",
                            copied.written(), of, topic, partitions, out, copied.undecodable(), copied.duplicateKeys());
                    String failure = failure(copied);
                    if (failure != null) {
                        err.println("dkv export: " + failure);
                    }
                    err.flush();
                    return failure == null ? 0 : 1;
                } finally {
                    summarised.countDown();
                    removeQuietly(stopOnSignal);
                }
            }
        } catch (IllegalArgumentException | IllegalStateException | UncheckedIOException | KafkaException e) {
            err.println("dkv export: " + e.getMessage());
            err.flush();
            return 2;
        }
    }

    private void validate() {
        if (expect != null && expect < 0) {
            throw new IllegalArgumentException("--expect must be >= 0, got " + expect);
        }
        if (idleTimeoutMillis <= 0) {
            throw new IllegalArgumentException("--idle-timeout-ms must be > 0, got " + idleTimeoutMillis);
        }
        if (timeoutMillis < 0) {
            throw new IllegalArgumentException("--timeout-ms must be >= 0 (0: no limit), got " + timeoutMillis);
        }
    }

    /** The exit's reason as one line, or null when the copy is what was asked for. */
    private String failure(Copied c) {
        String idle = "no new record for " + idleTimeoutMillis + " ms";
        return switch (c.stop()) {
            case EXPECTED -> c.written() == expect ? null
                    : "expected " + expect + " records, got " + c.written() + " (more than expected)";
            case IDLE -> expect == null ? null
                    : "expected " + expect + " records, got " + c.written() + " (" + idle + ")";
            case STALLED -> "did not reach the end of " + topic + " as it was at start: " + idle + " after "
                    + c.written() + " records";
            case TIMED_OUT -> expect != null ? "expected " + expect + " records, got " + c.written() + " within "
                    + timeoutMillis + " ms"
                    : c.reachedStartEnd() ? null : "did not reach the end of " + topic + " as it was at start within " + timeoutMillis + " ms";
            case INTERRUPTED -> "interrupted after " + c.written() + " records";
        };
    }

    /** Reads the topic into {@link #out} until a {@link Stop} applies. */
    private Copied copy(TopicReplay replay, PrintWriter err) {
        AvroSerde<ScoreRecord> serde = AvroSerde.of(ScoreRecord.class);
        Set<String> keys = new HashSet<>();
        long written = 0;
        long undecodable = 0;
        long duplicates = 0;
        long start = System.nanoTime();
        long lastRecord = start;
        boolean reachedStartEnd = false;
        Stop stop = null;
        try (BufferedWriter writer = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
            try {
                while (stop == null) {
                    for (ConsumerRecord<String, byte[]> record : replay.poll(POLL)) {
                        lastRecord = System.nanoTime();
                        ScoreRecord score = decode(serde, record);
                        if (score == null) {
                            if (++undecodable <= WARNED_UNDECODABLE) {
                                err.println("dkv export: " + record.topic() + "-" + record.partition() + "@" + record.offset()
                                        + ": not a ScoreRecord, skipped");
                            }
                            continue;
                        }
                        if (experiment != null && !experiment.equals(score.getExperimentId())) {
                            continue;
                        }
                        writer.write(ScoreJson.line(score));
                        writer.newLine();
                        written++;
                        if (!keys.add(Topics.scoreKey(score))) {
                            duplicates++;
                        }
                    }
                    reachedStartEnd = reachedStartEnd || replay.caughtUp();
                    stop = stopReason(written, reachedStartEnd, System.nanoTime(), start, lastRecord);
                }
            } catch (WakeupException e) {
                stop = Stop.INTERRUPTED;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
        return new Copied(written, undecodable, duplicates, reachedStartEnd, stop);
    }

    /** Null while the copy goes on. */
    private Stop stopReason(long written, boolean reachedStartEnd, long now, long start, long lastRecord) {
        if (expect != null && written >= expect && reachedStartEnd) {
            return Stop.EXPECTED;
        }
        if (timeoutMillis > 0 && now - start >= TimeUnit.MILLISECONDS.toNanos(timeoutMillis)) {
            return Stop.TIMED_OUT;
        }
        if (now - lastRecord >= TimeUnit.MILLISECONDS.toNanos(idleTimeoutMillis)) {
            return reachedStartEnd ? Stop.IDLE : Stop.STALLED;
        }
        return null;
    }

    private static ScoreRecord decode(AvroSerde<ScoreRecord> serde, ConsumerRecord<String, byte[]> record) {
        if (record.value() == null) {
            return null;
        }
        try {
            return serde.decode(record.value());
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** The topic's partition count for the summary; a missing topic fails here with its name. */
    private int partitionCount(KafkaSettings settings) throws InterruptedException {
        try (Admin admin = Admin.create(settings.admin("export-admin"))) {
            return admin.describeTopics(List.of(topic)).allTopicNames()
                    .get(METADATA_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).get(topic).partitions().size();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                throw new IllegalStateException("topic " + topic + " does not exist on " + settings.bootstrapServers());
            }
            throw new IllegalStateException("cannot describe topic " + topic + " on " + settings.bootstrapServers() + ": "
                    + e.getCause().getMessage(), e);
        } catch (TimeoutException e) {
            throw new IllegalStateException("cannot describe topic " + topic + " on " + settings.bootstrapServers()
                    + " within " + METADATA_TIMEOUT.toSeconds() + " s", e);
        }
    }

    private void createParentDirectory() {
        Path parent = out.toAbsolutePath().getParent();
        try {
            if (parent != null) {
                Files.createDirectories(parent);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the directory of " + out + ": " + e.getMessage(), e);
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A hook cannot be removed once the JVM is shutting down; then it is already running. */
    private static void removeQuietly(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // shutting down
        }
    }
}
