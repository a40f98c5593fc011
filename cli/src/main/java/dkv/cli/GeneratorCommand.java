package dkv.cli;

import dkv.platform.config.KafkaSettings;
import dkv.platform.metrics.PrometheusMetrics;
import dkv.platform.pipeline.StagedCalls;
import dkv.schemas.Topics;
import dkv.scorers.generate.ChatTemplate;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.TextEncoder;
import dkv.scorers.torch.TorchException;
import dkv.scorers.worker.generator.ExtractiveStandIn;
import dkv.scorers.worker.generator.GenerateBatchFunction;
import dkv.scorers.worker.generator.GeneratorWorker;
import dkv.scorers.worker.generator.LexicalEmbedder;
import dkv.scorers.worker.generator.SurrogateEmbedder;
import dkv.scorers.worker.generator.SurrogateWriter;
import dkv.scorers.worker.generator.SurrogateWriters;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** A generator worker process: dkv.docs → dkv.surrogates exactly once, until SIGTERM (then it commits and leaves). */
@Command(name = "generator", mixinStandardHelpOptions = true,
        description = "Run a generator worker: consume dkv.docs, write each document's surrogates from the plan's prompt "
                + "templates, embed them with the query, produce dkv.surrogates transactionally (exactly once).")
public final class GeneratorCommand implements Callable<Integer> {
    private static final Duration STATUS_INTERVAL = Duration.ofSeconds(10);

    @Spec
    CommandSpec spec;

    @Mixin
    KafkaOptions kafka;

    @Mixin
    ScorerModelOptions model;

    @Option(names = "--model-id", paramLabel = "ID",
            description = "the generator id requests must name to be answered here (default: the model directory's name)")
    String modelId;

    @Option(names = "--stand-in", description = "write extractive stand-ins (frequent document words, no language model: "
            + "not generated text) instead of generating, without loading --model: for trying the stream")
    boolean standIn;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "32",
            description = "prompts decoded together at most (default: ${DEFAULT-VALUE}; a poll window's prompts are sorted "
                    + "by length and cut into batches)")
    int batch;

    @Option(names = "--embedder", paramLabel = "DIR",
            description = "BERT sentence-transformers snapshot (e.g. all-MiniLM-L6-v2) for the query similarities")
    Path embedderDir;

    @Option(names = "--embedder-id", paramLabel = "ID", description = "embedder id written into surrogates (default: its directory's name)")
    String embedderId;

    @Option(names = "--lexical-embedder", description = "hashed bag-of-words similarities instead of a sentence encoder (a stand-in)")
    boolean lexicalEmbedder;

    @Mixin
    WorkerOptions identity;

    @Option(names = "--max-poll-records", paramLabel = "N", defaultValue = "4",
            description = "documents per transaction and batched generation call at most (default: ${DEFAULT-VALUE})")
    int maxPollRecords;

    @Mixin
    PipelineOptions pipeline;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter err = spec.commandLine().getErr();
        String id = identity.id("generator");
        try {
            if (embedderDir != null && lexicalEmbedder) {
                throw new IllegalArgumentException("--embedder and --lexical-embedder exclude each other");
            }
            KafkaSettings settings = kafka.settings("dkv-generator");
            String served = modelId != null ? modelId : model.modelDir.toAbsolutePath().normalize().getFileName().toString();
            if (batch < 1) throw new IllegalArgumentException("--batch must be ≥ 1, got " + batch);
            StagedCalls.Settings stages = pipeline.settings();
            try (SurrogateWriter writer = writer(model, served, standIn, batch, err)) {
                Optional<SurrogateEmbedder> embedder = embedder(err);
                GenerateBatchFunction function = new GenerateBatchFunction(Optional.of(writer), embedder, id, new Object(),
                        System::currentTimeMillis);
                GeneratorWorker.Options options = new GeneratorWorker.Options(GeneratorWorker.GROUP, id, maxPollRecords, identity.workPartitions,
                        identity.replicationFactor);
                GeneratorWorker worker = GeneratorWorker.start(settings, options, stages, function, PrometheusMetrics.registry());
                Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("dkv-generator-stop").unstarted(worker::close));
                err.println("dkv generator: worker " + id + " (group " + GeneratorWorker.GROUP + ") serving generator '" + served
                        + "' on " + settings.bootstrapServers() + ": " + writer.describe());
                err.flush();
                long reported = -1;
                while (!worker.awaitTermination(STATUS_INTERVAL)) {
                    long now = function.written() + function.failed() + function.refused();
                    if (now != reported) {
                        reported = now;
                        err.printf("dkv generator: %s wrote %d surrogates, %d without text, %d requests to %s%n", id, function.written(),
                                function.failed(), function.refused(), Topics.DEAD);
                        err.flush();
                    }
                }
                if (worker.failure().isPresent()) {
                    err.println("dkv generator: worker " + id + " stopped: " + worker.failure().get());
                    return 1;
                }
                return 0;
            }
        } catch (IllegalArgumentException | IllegalStateException | java.io.UncheckedIOException | TorchException
                 | org.apache.kafka.common.KafkaException e) {
            err.println("dkv generator: " + e.getMessage());
            return 2;
        }
    }

    /**
     * The generation engine over {@code --model} ({@link SurrogateWriters#engine}; the chat template is checked before
     * the weights load), or with {@code standIn} the extractive stand-in, which loads nothing.
     */
    static SurrogateWriter writer(ScorerModelOptions model, String served, boolean standIn, int batch, PrintWriter err) {
        if (standIn) {
            return new ExtractiveStandIn(served);
        }
        ChatTemplate.of(model.modelDir); // a snapshot without a chat template fails here, before libtorch and the weights
        CausalLm lm = model.loadCausal(err, "generator");
        try {
            return SurrogateWriters.engine(lm, true, served, batch);
        } catch (RuntimeException e) {
            lm.close();
            throw e;
        }
    }

    private Optional<SurrogateEmbedder> embedder(PrintWriter err) {
        if (lexicalEmbedder) {
            err.println("dkv generator: similarities from the lexical stand-in (shared words), not a sentence encoder");
            return Optional.of(new LexicalEmbedder());
        }
        if (embedderDir == null) {
            err.println("dkv generator: no --embedder: surrogates carry no query similarity (routed conditions cannot route)");
            return Optional.empty();
        }
        TextEncoder encoder = TextEncoder.require(model.load(embedderDir, err, "generator"));
        String eid = embedderId != null ? embedderId : embedderDir.toAbsolutePath().normalize().getFileName().toString();
        return Optional.of(SurrogateEmbedder.of(encoder, eid));
    }
}
