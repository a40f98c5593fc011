package dkv.cli;

import dkv.avro.ModelRef;
import dkv.avro.ScoreRecord;
import dkv.avro.WorkItem;
import dkv.platform.pipeline.StagedCalls;
import io.micrometer.core.instrument.Metrics;
import reactor.core.publisher.Flux;
import dkv.producers.KeyedWork;
import dkv.producers.WorkPlan;
import dkv.producers.dataset.BadRecordException;
import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.PassageChoice;
import dkv.producers.dataset.ReaderOptions;
import dkv.producers.plan.Plan;
import dkv.producers.surrogate.GeneratorResources;
import dkv.scorers.model.LoadedModel;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.model.ModelSnapshot;
import dkv.scorers.score.ScoreOptions;
import dkv.scorers.torch.TorchException;
import dkv.scorers.worker.ServedModel;
import dkv.scorers.worker.WorkItemScorer;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Offline scoring without Kafka: the plan over the samples gives exactly the WorkItems {@code dkv produce}
 * would send, and each is scored as a scorer worker would, into one JSON line per sample × condition.
 * Samples are scored a chunk at a time ({@code --samples-per-call}) so that their forwards fill the padded
 * batches; the output keeps sample order, then condition order. The chunks go through the worker's own prepare →
 * score stages ({@link StagedCalls}: tokenizing and planning on CPU worker threads, {@code --prefetch} calls ahead,
 * the forwards on one thread), so a benchmark of this command measures the service pipeline.
 */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = "Score samples under a plan offline (no Kafka) and write one JSON line per sample x condition.")
public final class ScoreCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ScorerModelOptions model;

    @Option(names = "--samples", required = true, paramLabel = "FILE",
            description = "samples: generic JSONL {id, query, passage, answer} or any MS MARCO shape dkv produce reads")
    Path samples;

    @Option(names = "--plan", required = true, paramLabel = "FILE|PRESET", description = "experiment plan JSON (or a preset name)")
    String plan;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "output JSON lines")
    Path out;

    @Option(names = "--attention", description = "record attention shares per layer for every condition")
    boolean attention;

    @Option(names = "--limit", paramLabel = "N", description = "at most N samples")
    Integer limit;

    @Option(names = "--model-id", paramLabel = "ID", description = "model id written into the records (default: the plan's, else the model directory's name)")
    String modelId;

    @Option(names = "--samples-per-call", defaultValue = "32", paramLabel = "N",
            description = "samples scored together, their forwards sharing padded batches (default: ${DEFAULT-VALUE})")
    int samplesPerCall;

    @Mixin
    ScorerBatchOptions batching;

    @Mixin
    PipelineOptions pipeline;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        try {
            if (samplesPerCall < 1) {
                throw new IllegalArgumentException("--samples-per-call must be >= 1, got " + samplesPerCall);
            }
            Plan loaded = Plan.loadFileOrPreset(plan);
            ModelSnapshot snapshot = ModelSnapshot.open(model.modelDir);
            ModelFamilies.familyOf(snapshot); // an unsupported model fails before the dataset pass and libtorch
            Dataset data = Dataset.of(samples, Optional.empty(), new ReaderOptions(PassageChoice.parse("selected"), loaded.seed(), false));
            String id = modelId != null ? modelId : loaded.model().map(m -> m.getId()).orElse(snapshot.name());
            ModelRef ref = ModelRef.newBuilder().setId(id).setRevision(snapshot.revision()).build();
            // the first pass over the samples runs before libtorch loads: a bad line fails in a second
            WorkPlan work = WorkPlan.prepare(loaded, data, new GeneratorResources(Optional.of(model.modelDir), loaded.baseDir(),
                    Optional.empty()), Optional.of(ref), Optional.ofNullable(limit), System::currentTimeMillis);
            // what the first pass skipped (no answer, no passage), as dkv produce reports it, before the model loads
            err.println("dkv score: " + loaded.experimentId() + " (plan " + loaded.hash() + ", " + loaded.conditions().size()
                    + " conditions): " + work.planned() + " samples -> " + out + "; first pass: " + work.firstPassCounts());
            err.flush();
            try (LoadedModel lm = model.load(err, "score")) {
                ServedModel served = ServedModel.of(lm, id);
                WorkItemScorer scorer = new WorkItemScorer(served, batching.applyTo(ScoreOptions.defaults().withAttention(attention))
                        .withWorker("dkv-score"));
                long records = write(work, scorer, ScoreProgress.onStderr("dkv score:", "samples", work.planned(), err));
                err.println("dkv score: wrote " + records + " records to " + out);
                return 0;
            }
        } catch (IllegalArgumentException | IllegalStateException | UncheckedIOException | BadRecordException | TorchException e) {
            err.println("dkv score: " + e.getMessage());
            return 2;
        }
    }

    private long write(WorkPlan work, WorkItemScorer scorer, ScoreProgress progress) {
        long records = 0;
        try {
            if (out.toAbsolutePath().getParent() != null) {
                Files.createDirectories(out.toAbsolutePath().getParent());
            }
            try (BufferedWriter writer = Files.newBufferedWriter(out, StandardCharsets.UTF_8);
                 StagedCalls calls = new StagedCalls("dkv-score", pipeline.settings(), Metrics.globalRegistry)) {
                Flux<List<WorkItem>> chunks = work.items().map(KeyedWork::item).buffer(samplesPerCall);
                for (List<WorkItemScorer.ItemResult> results : calls.apply(chunks, scorer::prepare, scorer::score).toIterable(1)) {
                    for (WorkItemScorer.ItemResult result : results) {
                        List<ScoreRecord> scored = switch (result) {
                            case WorkItemScorer.ItemResult.Scored s -> s.records();
                            case WorkItemScorer.ItemResult.Failed f -> throw f.reason();
                        };
                        for (ScoreRecord r : scored) {
                            writer.write(ScoreJson.line(r));
                            writer.newLine();
                        }
                        records += scored.size();
                        progress.advance(1);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
        progress.finish();
        return records;
    }
}
