package dkv.cli;

import dkv.platform.config.KafkaSettings;
import dkv.platform.metrics.PrometheusMetrics;
import dkv.schemas.Topics;
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

    @Option(names = "--stand-in", description = "write extractive stand-ins (frequent document words, no language model) "
            + "instead of generating: for trying the stream where this build has no generation engine")
    boolean standIn;

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
            SurrogateWriter writer = writer(model, served, standIn, err);
            Optional<SurrogateEmbedder> embedder = embedder(err);
            GenerateBatchFunction function = new GenerateBatchFunction(Optional.of(writer), embedder, id, new Object(),
                    System::currentTimeMillis);
            GeneratorWorker.Options options = new GeneratorWorker.Options(GeneratorWorker.GROUP, id, maxPollRecords, identity.workPartitions,
                    identity.replicationFactor);
            GeneratorWorker worker = GeneratorWorker.start(settings, options, function, PrometheusMetrics.registry());
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
        } catch (IllegalArgumentException | IllegalStateException | java.io.UncheckedIOException | TorchException
                 | org.apache.kafka.common.KafkaException e) {
            err.println("dkv generator: " + e.getMessage());
            return 2;
        }
    }

    /**
     * The engine for {@code --model} ({@link SurrogateWriters#engine}), or with {@code standIn} the extractive stand-in;
     * without an engine in this build, an error that names the stand-in.
     */
    static SurrogateWriter writer(ScorerModelOptions model, String served, boolean standIn, PrintWriter err) {
        if (standIn) {
            return new ExtractiveStandIn(served);
        }
        model.runtime(err, "generator");
        return SurrogateWriters.engine(model.modelDir, served, model.device(), model.dtype()).orElseThrow(() ->
                new IllegalArgumentException("this build has no text generation engine for " + model.modelDir
                        + "; --stand-in answers with extractive stand-ins (not generated text)"));
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
