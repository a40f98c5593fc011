package dkv.cli;

import dkv.avro.ModelRef;
import dkv.platform.config.KafkaSettings;
import dkv.producers.KeyedWork;
import dkv.producers.Progress;
import dkv.producers.SurrogateJoin;
import dkv.producers.WorkPlan;
import dkv.producers.WorkPublisher;
import dkv.producers.dataset.BadRecordException;
import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.DatasetFormat;
import dkv.producers.dataset.PassageChoice;
import dkv.producers.dataset.ReaderOptions;
import dkv.producers.plan.Plan;
import dkv.producers.surrogate.GeneratorResources;
import dkv.schemas.Topics;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Streams an experiment plan over a dataset into the work topic: one WorkItem per sample. */
@Command(name = "produce", mixinStandardHelpOptions = true,
        description = "Stream an experiment plan over a dataset into dkv.work (one WorkItem per sample, keyed experiment_id/sample_id).")
public final class ProduceCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--plan", required = true, paramLabel = "FILE|PRESET",
            description = "plan JSON file, or the name of a preset shipped with dkv (v2-exp01 ... v3-exp2b)")
    String plan;

    @Option(names = "--dataset", required = true, paramLabel = "FILE|DIR",
            description = "MS MARCO JSON (column dicts), MS MARCO JSON lines (original or HF export), MS MARCO HF Parquet,"
                    + " generic JSONL {id, query, passage, answer}, Amazon ESCI (examples Parquet or its directory) or WANDS"
                    + " (label.csv or its directory)")
    Path dataset;

    @Option(names = "--format", paramLabel = "FORMAT",
            description = "msmarco-columns, msmarco-jsonl, jsonl, msmarco-parquet, esci or wands (default: detected)")
    String format;

    @Option(names = "--filter", paramLabel = "COLUMN=VALUE",
            description = "dataset filter, repeatable; ESCI: small_version, split, product_locale (overrides the plan's dataset_filters)")
    List<String> filters = new ArrayList<>();

    @Option(names = "--passage", paramLabel = "CHOICE", defaultValue = "selected",
            description = "scored passage: selected (default), first or random")
    String passage;

    @Option(names = "--limit", paramLabel = "N", description = "at most N samples (with a plan sample count: the first N of its seeded order)")
    Integer limit;

    @Option(names = "--skip-bad", description = "skip malformed records (counted) instead of failing on the first")
    boolean skipBad;

    @Option(names = "--model-dir", paramLabel = "DIR", description = "HF snapshot directory (its tokenizer.json gives random_tokens surrogates their vocabulary)")
    Path modelDir;

    @Option(names = "--model-id", paramLabel = "ID", description = "model id written into every WorkItem (default: the --model-dir's name "
            + "unless the plan pins its model, else the plan's)")
    String modelId;

    @Option(names = "--model-revision", paramLabel = "REV", description = "revision or content hash of the model")
    String modelRevision;

    @Option(names = "--surrogates", paramLabel = "FILE", description = "fills paraphrase/generated surrogate slots: JSONL {id, surrogate} or TSV id<TAB>text")
    Path surrogates;

    @Mixin
    KafkaOptions kafka;

    @Option(names = "--topic", defaultValue = Topics.WORK, description = "work topic (default: ${DEFAULT-VALUE})")
    String topic;

    @Option(names = "--work-partitions", defaultValue = "24", description = "partitions of the work topic when it is created (default: ${DEFAULT-VALUE})")
    int workPartitions;

    @Option(names = "--replication-factor", defaultValue = "1", description = "replication factor of topics this command creates (default: ${DEFAULT-VALUE})")
    short replicationFactor;

    @Option(names = "--max-in-flight", defaultValue = "256", description = "unacknowledged sends at most (default: ${DEFAULT-VALUE})")
    int maxInFlight;

    @Option(names = "--dry-run", description = "print the WorkItems as JSON lines instead of sending them (plans with generated"
            + " surrogates: the requests to the generator workers)")
    boolean dryRun;

    @Option(names = "--max-pending", defaultValue = "1024", paramLabel = "N",
            description = "plans with generated surrogates: samples waiting for their surrogates at most (default: ${DEFAULT-VALUE})")
    int maxPending;

    @Option(names = "--surrogate-timeout", defaultValue = "0", paramLabel = "SECONDS",
            description = "plans with generated surrogates: give up when no surrogate arrives for this long (default: 0, wait)")
    long surrogateTimeout;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        try {
            // settings first: a bad Kafka setting fails before the first pass over a large dataset
            Optional<KafkaSettings> settings = dryRun ? Optional.empty() : Optional.of(kafka.settings("dkv-produce"));
            Plan loaded = Plan.loadFileOrPreset(plan);
            Dataset data = Dataset.of(dataset, Optional.ofNullable(format).map(DatasetFormat::parse),
                    new ReaderOptions(PassageChoice.parse(passage), loaded.seed(), skipBad).withFilters(filters()));
            GeneratorResources resources = new GeneratorResources(Optional.ofNullable(modelDir), loaded.baseDir(),
                    Optional.ofNullable(surrogates));
            WorkPlan work = WorkPlan.prepare(loaded, data, resources, model(loaded), Optional.ofNullable(limit), System::currentTimeMillis);
            err.println("dkv produce: " + loaded.experimentId() + " (plan " + loaded.hash() + ", " + loaded.conditions().size()
                    + " conditions, model " + work.model().getId() + replacedPlanModel(loaded, work.model()) + "): "
                    + work.planned() + (loaded.ranking().isPresent() ? " queries in " + work.plannedItems() + " work items" : " samples")
                    + "; first pass: " + work.firstPassCounts());
            err.flush();
            if (dryRun) {
                PrintWriter out = spec.commandLine().getOut();
                if (work.needsSurrogates()) {
                    work.samples().toIterable().forEach(sample -> out.println(work.request(sample, 0L)));
                } else {
                    for (KeyedWork item : work.items().toIterable()) {
                        out.println(item.item());
                    }
                }
                out.flush();
                return 0;
            }
            WorkPublisher publisher = new WorkPublisher(settings.orElseThrow(), topic, workPartitions, maxInFlight);
            List<String> created = publisher.ensureTopics(replicationFactor);
            if (!created.isEmpty()) {
                err.println("dkv produce: created topics " + created);
            }
            Progress progress = new Progress(work.plannedItems(), java.time.Duration.ofSeconds(5), System::nanoTime,
                    line -> {
                        err.println("dkv produce: " + line);
                        err.flush();
                    });
            if (work.needsSurrogates()) {
                err.println("dkv produce: documents to " + Topics.DOCS + ", work items as their surrogates arrive on "
                        + Topics.SURROGATES + " (start dkv generator workers)");
                err.flush();
                SurrogateJoin.Result result = new SurrogateJoin(settings.orElseThrow(), topic, maxPending,
                        java.time.Duration.ofSeconds(surrogateTimeout), line -> {
                            err.println("dkv produce: " + line);
                            err.flush();
                        }, System::currentTimeMillis).publish(work, progress);
                progress.finish();
                err.println("dkv produce: wrote " + result.published() + " work items to " + topic + " (" + result.resumed()
                        + " written before, " + result.requested() + " documents requested, " + result.failures().size()
                        + " samples failed)");
                return result.failures().isEmpty() ? 0 : 1;
            }
            long sent = publisher.publish(work, progress);
            progress.finish();
            err.println("dkv produce: wrote " + sent + " work items to " + topic);
            return 0;
        } catch (IllegalArgumentException | IllegalStateException | java.io.UncheckedIOException | BadRecordException
                | org.apache.kafka.common.KafkaException e) {
            err.println("dkv produce: " + e.getMessage());
            return 2;
        }
    }

    /** The --filter options as a map; a malformed one names itself. */
    private Map<String, String> filters() {
        Map<String, String> parsed = new LinkedHashMap<>();
        for (String filter : filters) {
            int eq = filter.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("--filter expects COLUMN=VALUE, got '" + filter + "'");
            }
            parsed.put(filter.substring(0, eq).strip(), filter.substring(eq + 1).strip());
        }
        return parsed;
    }

    /**
     * The model every WorkItem names: --model-id; else the plan's model where the plan pins it
     * ({@code "model": {"id": ..., "pinned": true}}); else the --model-dir's name, which is the id that
     * {@code dkv scorer --model DIR} serves by default (plan presets name hub ids that no directory is called);
     * else the plan's model.
     */
    private Optional<ModelRef> model(Plan loaded) {
        if (modelId == null && modelRevision != null) {
            throw new IllegalArgumentException("--model-revision needs --model-id");
        }
        if (modelId != null) {
            return Optional.of(ModelRef.newBuilder().setId(modelId).setRevision(modelRevision).build());
        }
        if (modelDir != null && !loaded.modelPinned()) {
            return Optional.of(ModelRef.newBuilder().setId(modelDir.toAbsolutePath().normalize().getFileName().toString())
                    .setRevision(null).build());
        }
        return Optional.empty();
    }

    /** " (the plan's: ID)" where the stamped id is not the one the plan names, so that the replacement is seen. */
    private static String replacedPlanModel(Plan loaded, ModelRef stamped) {
        return loaded.model().filter(m -> !m.getId().equals(stamped.getId())).map(m -> " (the plan's: " + m.getId() + ")").orElse("");
    }
}
