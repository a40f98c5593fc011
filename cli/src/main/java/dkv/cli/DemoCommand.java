package dkv.cli;

import dkv.aggregator.report.MarkdownReport;
import dkv.aggregator.service.AggregatorService;
import dkv.aggregator.service.PublishCadence;
import dkv.aggregator.web.Dashboard;
import dkv.aggregator.web.LiveSnapshots;
import dkv.avro.ModelRef;
import dkv.avro.StatsSnapshot;
import dkv.platform.broker.EmbeddedKafkaBroker;
import dkv.platform.config.KafkaSettings;
import dkv.platform.metrics.PrometheusMetrics;
import dkv.platform.pipeline.StagedCalls;
import dkv.producers.Progress;
import dkv.producers.WorkPlan;
import dkv.producers.WorkPublisher;
import dkv.producers.dataset.BadRecordException;
import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.PassageChoice;
import dkv.producers.dataset.ReaderOptions;
import dkv.producers.plan.Plan;
import dkv.producers.surrogate.GeneratorResources;
import dkv.schemas.Topics;
import dkv.scorers.generate.ChatTemplate;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.LoadedModel;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.model.ModelSnapshot;
import dkv.scorers.score.ScoreOptions;
import dkv.scorers.torch.TorchException;
import dkv.scorers.worker.ScoreBatchFunction;
import dkv.scorers.worker.ScorerMetrics;
import dkv.scorers.worker.ScorerWorker;
import dkv.scorers.worker.Worker;
import dkv.scorers.worker.generator.GenerateBatchFunction;
import dkv.scorers.worker.generator.GeneratorWorker;
import dkv.scorers.worker.generator.LexicalEmbedder;
import dkv.scorers.worker.generator.SurrogateEmbedder;
import dkv.scorers.worker.generator.SurrogateWriter;
import dkv.scorers.worker.generator.SurrogateWriters;
import dkv.scorers.model.TextEncoder;
import dkv.producers.SurrogateJoin;
import dkv.scorers.worker.ServedModel;
import dkv.scorers.worker.WorkItemScorer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The whole pipeline in one JVM on CPU: an embedded KRaft broker, the producer streaming the demo samples
 * through the demo plan, two scorer workers in one consumer group (sharing one loaded model, taking turns
 * on it), the aggregator service with its live dashboard, and the report at the end.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run the whole pipeline on an embedded broker with the bundled tiny model and samples (CPU), "
                + "with the live dashboard; ends with the report.")
public final class DemoCommand implements Callable<Integer> {
    /** Measured on the 2-core build machine: the demo plan over this many samples takes about a minute. */
    static final int DEFAULT_SAMPLES = 100;
    private static final int WORKERS = 2;
    /** Prompts the demo's generator decodes together: a poll window of 4 documents × 5 templates. */
    private static final int GENERATION_BATCH = 20;

    @Spec
    CommandSpec spec;

    @Option(names = "--samples", paramLabel = "N", defaultValue = "" + DEFAULT_SAMPLES,
            description = "samples to score (default: ${DEFAULT-VALUE}, about a minute on 2 cores)")
    int samples;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "dkv-demo-out", description = "report directory (default: ./${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--keep-open", description = "keep the dashboard (and broker) up after the report, until Ctrl-C")
    boolean keepOpen;

    @Option(names = "--demo-dir", paramLabel = "DIR",
            description = "where model/, samples.jsonl and plan.json are (default: ./demo, else the demo/ of this dkv checkout)")
    Path demoDir;

    @Option(names = "--model", paramLabel = "DIR", description = "model snapshot (default: <demo-dir>/model)")
    Path model;

    @Option(names = "--dataset", paramLabel = "FILE", description = "samples file (default: <demo-dir>/samples.jsonl)")
    Path dataset;

    @Option(names = "--plan", paramLabel = "FILE", description = "plan (default: <demo-dir>/plan.json)")
    Path plan;

    @Option(names = "--http-port", paramLabel = "PORT", defaultValue = "8080",
            description = "dashboard port on 127.0.0.1; 0 picks a free one (default: ${DEFAULT-VALUE})")
    int httpPort;

    @Option(names = "--attention", description = "record attention shares for every condition (slower; shown on the dashboard)")
    boolean attention;

    @Option(names = "--threads", paramLabel = "N", description = "libtorch CPU threads (default: the available cores)")
    Integer threads;

    @Option(names = "--generated", description = "the generated-surrogates variant (<demo-dir>/plan-generated.json): a generator "
            + "worker writes five surrogates per document and the producer joins them into the work; routed and best-of-5 "
            + "derived conditions")
    boolean generated;

    @Option(names = "--embedder", paramLabel = "DIR",
            description = "with --generated: a BERT sentence-transformers snapshot for the query similarities (default: the lexical stand-in)")
    Path embedder;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter err = spec.commandLine().getErr();
        if (samples < 1) {
            throw new IllegalArgumentException("--samples must be at least 1, got " + samples);
        }
        Path dir = demoDir != null ? demoDir : DemoFiles.defaultDir();
        Path modelDir = model != null ? model : dir.resolve("model");
        Path samplesFile = dataset != null ? dataset : dir.resolve("samples.jsonl");
        Path planFile = plan != null ? plan : dir.resolve(generated ? "plan-generated.json" : "plan.json");
        List<AutoCloseable> open = new ArrayList<>();
        CountDownLatch stopped = new CountDownLatch(1);
        // Ctrl-C at any point: stop the workers, the aggregator and the broker (its temporary data goes too)
        Thread cleanup = Thread.ofPlatform().name("dkv-demo-stop").unstarted(() -> {
            closeAll(open);
            stopped.countDown();
        });
        Runtime.getRuntime().addShutdownHook(cleanup);
        try {
            // everything that can be wrong with the inputs fails here, before the broker and libtorch start
            Plan loaded = Plan.load(planFile);
            if (generated != loaded.generation().isPresent()) {
                throw new IllegalArgumentException(planFile + (generated ? ": --generated needs a plan with a \"generation\" block"
                        : ": a plan with generated surrogates runs with --generated"));
            }
            ModelSnapshot snapshot = ModelSnapshot.open(modelDir);
            ModelFamilies.familyOf(snapshot);
            if (generated) {
                ChatTemplate.of(modelDir); // the generator renders each prompt through it: a snapshot without one fails here
            }
            String modelId = loaded.model().map(ModelRef::getId).orElse(snapshot.name());
            Dataset data = Dataset.of(samplesFile, Optional.empty(), new ReaderOptions(PassageChoice.parse("selected"), loaded.seed(), false));
            WorkPlan work = WorkPlan.prepare(loaded, data, new GeneratorResources(Optional.of(modelDir), loaded.baseDir(), Optional.empty()),
                    Optional.of(ModelRef.newBuilder().setId(modelId).setRevision(snapshot.revision()).build()),
                    Optional.of(samples), System::currentTimeMillis);
            long planned = work.planned() * loaded.conditions().size();
            err.println("dkv demo: " + loaded.experimentId() + ": " + work.planned() + " samples x " + loaded.conditions().size()
                    + " conditions = " + planned + " scores, model " + modelDir);
            if (work.firstPassCounts().skipped() > 0) { // a --dataset of the user's can hold samples dkv cannot score
                err.println("dkv demo: first pass: " + work.firstPassCounts());
            }

            EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start();
            open.add(broker);
            broker.createDkvTopics(Topics.DEFAULT_WORK_PARTITIONS);
            KafkaSettings settings = KafkaSettings.of(broker.bootstrapServers());
            err.println("dkv demo: embedded Kafka at " + broker.bootstrapServers());

            LiveSnapshots live = new LiveSnapshots();
            AggregatorService aggregator = AggregatorService.start(settings, new PublishCadence(50_000, 500), 0.05, live);
            open.add(aggregator);
            Dashboard dashboard = Dashboard.start(Dashboard.DEFAULT_HOST, httpPort, live);
            open.add(dashboard);
            err.println("dkv demo: dashboard at " + dashboard.url());

            ScorerModelOptions torch = new ScorerModelOptions();
            torch.modelDir = modelDir;
            torch.threads = threads != null ? threads : Runtime.getRuntime().availableProcessors();
            LoadedModel lm = torch.load(err, "demo");
            open.add(lm);
            ServedModel served = ServedModel.of(lm, modelId);
            Object sharedModel = new Object(); // the workers take turns on the one loaded model
            List<Worker> workers = new ArrayList<>();
            List<ScorerMetrics> metrics = new ArrayList<>();
            for (int i = 0; i < WORKERS; i++) {
                String id = "demo-scorer-" + i;
                ScorerMetrics m = new ScorerMetrics(PrometheusMetrics.registry(), id);
                WorkItemScorer scorer = new WorkItemScorer(served, ScoreOptions.defaults().withAttention(attention).withWorker(id));
                ScorerWorker worker = ScorerWorker.start(settings, Worker.Options.of(ScorerWorker.GROUP, id).withMaxPollRecords(2), StagedCalls.Settings.defaults(),
                        new ScoreBatchFunction(scorer, m, Topics.SCORES, sharedModel), PrometheusMetrics.registry());
                workers.add(worker);
                metrics.add(m);
                open.add(worker);
            }
            err.println("dkv demo: " + WORKERS + " scorer workers in group " + ScorerWorker.GROUP);

            CompletableFuture<Long> produced;
            Progress quiet = new Progress(work.planned(), Duration.ofHours(1), System::nanoTime, line -> {});
            if (generated) {
                GeneratorWorker generator = startGenerator(loaded, lm, sharedModel, torch, settings, err);
                open.add(generator);
                workers.add(generator);
                SurrogateJoin join = new SurrogateJoin(settings, Topics.WORK, 64, Duration.ZERO, line -> err.println("dkv demo: " + line),
                        System::currentTimeMillis);
                produced = CompletableFuture.supplyAsync(() -> {
                    SurrogateJoin.Result result = join.publish(work, quiet);
                    return result.published() + result.resumed();
                });
            } else {
                WorkPublisher publisher = new WorkPublisher(settings, Topics.WORK, Topics.DEFAULT_WORK_PARTITIONS, 64);
                produced = CompletableFuture.supplyAsync(() -> publisher.publish(work, quiet));
            }

            StatsSnapshot last = await(loaded.experimentId(), planned, loaded.conditions().size(), live, workers, metrics, produced, err);
            Path report = MarkdownReport.write(last, out);
            err.println("dkv demo: report written to " + report.toAbsolutePath());
            System.out.println(report.toAbsolutePath());
            System.out.flush();
            if (keepOpen) {
                for (Worker w : workers) {
                    w.close();
                }
                err.println("dkv demo: dashboard stays at " + dashboard.url() + " (Ctrl-C to stop)");
                err.flush();
                stopped.await();
            }
            return 0;
        } catch (IllegalArgumentException | IllegalStateException | UncheckedIOException | BadRecordException | TorchException
                 | org.apache.kafka.common.KafkaException e) {
            err.println("dkv demo: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("dkv demo: cannot write the report to " + out + ": " + e.getMessage());
            return 2;
        } finally {
            closeAll(open);
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException e) {
                // the JVM is already shutting down: the hook runs (and finds nothing left to close)
            }
        }
    }

    /**
     * Shows progress from the aggregator's view (scores committed and aggregated) until every planned score
     * arrived, less those of dead-lettered items; returns the last snapshot.
     */
    private static StatsSnapshot await(String experiment, long planned, int conditions, LiveSnapshots live,
            List<Worker> workers,
            List<ScorerMetrics> metrics, CompletableFuture<Long> produced, PrintWriter err) throws InterruptedException {
        ScoreProgress progress = ScoreProgress.onStderr("dkv demo:", "scores", planned, err);
        while (true) {
            StatsSnapshot snapshot = live.latest().get(experiment);
            long records = snapshot == null ? 0 : snapshot.getRecords();
            long dead = (long) metrics.stream().mapToDouble(ScorerMetrics::rejectedTotal).sum() * conditions;
            progress.set(records);
            // samples whose surrogates failed get no work item: once the producer is done, it says how many went out
            long expected = produced.isDone() && !produced.isCompletedExceptionally() ? Math.min(planned, produced.join() * conditions) : planned;
            if (snapshot != null && records + dead >= expected) {
                progress.finish();
                if (dead > 0) {
                    err.println("dkv demo: " + dead / conditions + " work items went to " + Topics.DEAD);
                }
                return snapshot;
            }
            if (produced.isCompletedExceptionally()) {
                throw new IllegalStateException("producer failed: " + produced.exceptionNow());
            }
            for (Worker w : workers) {
                if (w.failure().isPresent()) {
                    throw new IllegalStateException("worker " + w.workerId() + " failed: " + w.failure().get());
                }
            }
            Thread.sleep(250);
        }
    }

    /**
     * One generator worker on the demo's loaded model (the scorers' model: the bundled tiny Llama unless --model says
     * otherwise), sharing their turns on it: the generation engine ({@link SurrogateWriters#engine}) with the snapshot's
     * chat template; similarities from {@code --embedder}, else the lexical stand-in, said so.
     */
    private GeneratorWorker startGenerator(Plan loaded, LoadedModel lm, Object sharedModel, ScorerModelOptions torch,
            KafkaSettings settings, PrintWriter err) {
        String generatorId = loaded.generation().orElseThrow().model().map(ModelRef::getId).orElse("none");
        if (!(lm instanceof CausalLm causal)) {
            throw new IllegalArgumentException(torch.modelDir + ": a " + lm.shape() + " model cannot generate surrogates (causal LMs only)");
        }
        SurrogateWriter writer = SurrogateWriters.engine(causal, false, generatorId, GENERATION_BATCH);
        err.println("dkv demo: generator '" + generatorId + "': " + writer.describe());
        SurrogateEmbedder embedding;
        if (embedder != null) {
            embedding = SurrogateEmbedder.of(TextEncoder.require(torch.load(embedder, err, "demo")), embedder.getFileName().toString());
        } else {
            embedding = new LexicalEmbedder();
            err.println("dkv demo: query similarities from the lexical stand-in (shared words), not a sentence encoder (--embedder DIR)");
        }
        String id = "demo-generator-0";
        GeneratorWorker worker = GeneratorWorker.start(settings, GeneratorWorker.options(id), StagedCalls.Settings.defaults(),
                new GenerateBatchFunction(Optional.of(writer), Optional.of(embedding), id, sharedModel, System::currentTimeMillis),
                PrometheusMetrics.registry());
        err.println("dkv demo: 1 generator worker in group " + GeneratorWorker.GROUP);
        return worker;
    }

    private static void closeAll(List<AutoCloseable> open) {
        synchronized (open) {
            closeInReverse(open);
        }
    }

    private static void closeInReverse(List<AutoCloseable> open) {
        for (int i = open.size() - 1; i >= 0; i--) {
            try {
                open.get(i).close();
            } catch (Exception e) {
                System.err.println("dkv demo: closing " + open.get(i).getClass().getSimpleName() + ": " + e);
            }
        }
        open.clear();
    }
}
