package dkv.cli;

import dkv.platform.config.KafkaSettings;
import dkv.platform.kafka.Partitions;
import dkv.platform.metrics.PrometheusMetrics;
import dkv.scorers.model.LoadedModel;
import dkv.scorers.score.ScoreOptions;
import dkv.scorers.torch.TorchException;
import dkv.scorers.worker.ScoreBatchFunction;
import dkv.scorers.worker.ScorerMetrics;
import dkv.scorers.worker.ScorerWorker;
import dkv.scorers.worker.ServedModel;
import dkv.scorers.worker.WorkItemScorer;
import dkv.schemas.Topics;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** A scorer worker process: runs until SIGTERM, then scores and commits the calls in flight and leaves the group. */
@Command(name = "scorer", mixinStandardHelpOptions = true,
        description = "Run a scorer worker: consume dkv.work, score, produce dkv.scores transactionally (exactly once).")
public final class ScorerCommand implements Callable<Integer> {
    private static final Duration STATUS_INTERVAL = Duration.ofSeconds(10);
    private static final Duration ASSIGNMENT_CHECK = Duration.ofSeconds(1);

    @Spec
    CommandSpec spec;

    @Mixin
    KafkaOptions kafka;

    @Mixin
    ScorerModelOptions model;

    @Option(names = "--model-id", paramLabel = "ID",
            description = "the model id WorkItems must name to be scored here (default: the model directory's name)")
    String modelId;

    @Mixin
    WorkerOptions identity;

    @Mixin
    MetricsEndpointOptions metricsEndpoint;

    @Option(names = "--max-poll-records", paramLabel = "N",
            description = "WorkItems (samples) per transaction and batched scoring call at most (default: "
                    + CPU_POLL_RECORDS + " on CPU, " + GPU_POLL_RECORDS + " on CUDA)")
    Integer maxPollRecords;

    /** A CPU scores a sample in tens of milliseconds: small transactions keep latency and re-work low. */
    static final int CPU_POLL_RECORDS = 4;
    /** A GPU needs many samples per batched call to fill its forwards (each holds up to --max-batch rows). */
    static final int GPU_POLL_RECORDS = 32;

    @Mixin
    ScorerBatchOptions batching;

    @Mixin
    PipelineOptions pipeline;

    @Option(names = "--attention", description = "record attention shares for every condition (else where a condition asks)")
    boolean attention;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter err = spec.commandLine().getErr();
        String id = identity.id("scorer");
        PrometheusMetrics endpoint = null;
        try {
            KafkaSettings settings = kafka.settings("dkv-scorer");
            int pollRecords = maxPollRecords != null ? maxPollRecords : model.device().isCuda() ? GPU_POLL_RECORDS : CPU_POLL_RECORDS;
            ScorerWorker.Options options = new ScorerWorker.Options(ScorerWorker.GROUP, id, pollRecords, identity.workPartitions,
                    identity.replicationFactor);
            PrometheusMeterRegistry registry = PrometheusMetrics.registry();
            endpoint = metricsEndpoint.start(err, "dkv scorer");
            LoadedModel lm = model.load(err, "scorer");
            ServedModel served = ServedModel.of(lm, modelId);
            ScorerMetrics metrics = new ScorerMetrics(registry, id);
            WorkItemScorer scorer = new WorkItemScorer(served, batching.applyTo(ScoreOptions.defaults().withAttention(attention))
                    .withWorker(id));
            ScorerWorker worker = ScorerWorker.start(settings, options, pipeline.settings(), ScoreBatchFunction.of(scorer, metrics), registry);
            // SIGTERM: score and commit the calls in flight and leave the group before the JVM halts
            Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("dkv-scorer-stop").unstarted(() -> {
                boolean wasRunning = worker.isRunning();
                worker.close();
                if (wasRunning) {
                    err.printf("dkv scorer: %s stopped gracefully after %.0f records%n", id, metrics.recordsTotal());
                    err.flush();
                }
            }));
            err.println("dkv scorer: worker " + id + " (group " + options.groupId() + ") serving model '" + served.id()
                    + "' on " + settings.bootstrapServers());
            err.flush();
            double reported = -1;
            double reportedDead = 0;
            long lastReport = 0;
            Set<TopicPartition> held = Set.of();
            // "serving" comes before the consumer's first poll joins the group: the partitions it then holds
            // (and every rebalance after) are reported within a second, records every STATUS_INTERVAL
            while (!worker.awaitTermination(ASSIGNMENT_CHECK)) {
                Set<TopicPartition> now = worker.assignment();
                if (!now.equals(held)) {
                    held = now;
                    err.println("dkv scorer: " + id + " holds " + (held.isEmpty() ? "no partitions" : held.size() + " partitions: "
                            + Partitions.compact(held)));
                    err.flush();
                }
                if (System.nanoTime() - lastReport >= STATUS_INTERVAL.toNanos()
                        && (metrics.recordsTotal() != reported || metrics.rejectedTotal() != reportedDead)) {
                    lastReport = System.nanoTime();
                    reported = metrics.recordsTotal();
                    reportedDead = metrics.rejectedTotal();
                    // dead letters are counted here, not logged one by one (a worker on the wrong model refuses all)
                    err.printf("dkv scorer: %s scored %.0f records%s%n", id, reported,
                            reportedDead == 0 ? "" : String.format(", %.0f work items to %s", reportedDead, Topics.DEAD));
                    err.flush();
                }
            }
            Optional<Throwable> failure = worker.failure();
            if (failure.isPresent()) {
                err.println("dkv scorer: worker " + id + " stopped: " + failure.get());
                return 1;
            }
            return 0;
        } catch (IllegalArgumentException | IllegalStateException | java.io.UncheckedIOException | TorchException
                 | org.apache.kafka.common.KafkaException e) {
            err.println("dkv scorer: " + e.getMessage());
            return 2;
        } finally {
            if (endpoint != null) {
                endpoint.close();
            }
        }
    }
}
