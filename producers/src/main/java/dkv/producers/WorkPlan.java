package dkv.producers;

import dkv.avro.ModelRef;
import dkv.avro.Sample;
import dkv.producers.corpus.CorpusScan;
import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.ReadCounts;
import dkv.producers.dataset.ReaderOptions;
import dkv.producers.dataset.SampleReader;
import dkv.avro.NamedText;
import dkv.avro.SurrogateRequest;
import dkv.producers.plan.GeneratedTexts;
import dkv.producers.plan.GenerationSpec;
import dkv.producers.plan.Plan;
import dkv.schemas.AvroSerde;
import dkv.producers.plan.PlanExpander;
import dkv.producers.surrogate.GeneratorResources;
import dkv.schemas.Topics;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.LongSupplier;
import reactor.core.publisher.Flux;

/**
 * A plan applied to a dataset: the first pass (counts, TF-IDF statistics, donors, seeded selection, and the
 * plan's requirements checked on every sample), then a lazy stream of keyed WorkItems. Samples come either from
 * the seeded selection (when the plan names a sample count) or from a second streaming pass over the file in its
 * order. The plan decides whether the samples are ranking queries and adds its dataset filters to the caller's.
 */
public final class WorkPlan {
    private final Plan plan;
    private final Dataset dataset;
    private final ModelRef model;
    private final CorpusScan scan;
    private final PlanExpander expander;
    private final long planned;
    private final long plannedItems;
    private final RankingWork ranking;
    private final LongSupplier clock;

    private WorkPlan(Plan plan, Dataset dataset, ModelRef model, CorpusScan scan, PlanExpander expander, long planned,
            long plannedItems, RankingWork ranking, LongSupplier clock) {
        this.plan = plan;
        this.dataset = dataset;
        this.model = model;
        this.scan = scan;
        this.expander = expander;
        this.planned = planned;
        this.plannedItems = plannedItems;
        this.ranking = ranking;
        this.clock = clock;
    }

    /**
     * Runs the first pass and builds the generators.
     *
     * @param limit at most this many samples (with a plan sample count: the first {@code limit} of the seeded
     *              order, so a limited run is a prefix of the full one)
     * @param model the model every item names; fails when neither it nor the plan gives one
     */
    public static WorkPlan prepare(Plan plan, Dataset dataset, GeneratorResources resources, Optional<ModelRef> model,
            Optional<Integer> limit, LongSupplier epochMillis) {
        ModelRef ref = model.or(plan::model).orElseThrow(() -> new IllegalArgumentException(
                plan.source() + ": the plan names no model: add \"model\": {\"id\": ...} or pass --model-id"));
        limit.ifPresent(n -> {
            if (n < 1) {
                throw new IllegalArgumentException("--limit must be positive, got " + n);
            }
        });
        // the plan's data filter applies to both passes: statistics, donors and selection see only qualifying samples
        Dataset effective = forPlan(plan, dataset).filtered(plan.data().filter(resources, plan.source()));
        Optional<Integer> selection = plan.samples().map(n -> limit.map(l -> Math.min(l, n)).orElse(n));
        RankingWork ranking = new RankingWork(plan);
        // WorkItems per sample in file order, for the item count of a run without selection
        List<Integer> partsInFileOrder = new ArrayList<>();
        CorpusScan scan = CorpusScan.run(effective, plan.seed(), selection, sample -> {
            ranking.check(sample);
            if (plan.ranking().isPresent()) {
                partsInFileOrder.add(ranking.parts(sample));
            }
        });
        PlanExpander expander = plan.expander(resources, scan.corpus());
        long available = scan.selection().map(s -> (long) s.size()).orElse(scan.corpus().samples());
        long planned = limit.map(l -> Math.min(l, available)).orElse(available);
        long items = scan.selection()
                .map(s -> s.stream().limit(planned).mapToLong(ranking::parts).sum())
                .orElseGet(() -> plan.ranking().isEmpty() ? planned
                        : partsInFileOrder.stream().limit(planned).mapToLong(Integer::longValue).sum());
        return new WorkPlan(plan, effective, ref, scan, expander, planned, items, ranking, epochMillis);
    }

    /** The dataset read as the plan needs it: ranking samples for a ranking plan; the plan's filters under the caller's. */
    static Dataset forPlan(Plan plan, Dataset dataset) {
        Map<String, String> filters = new TreeMap<>(plan.datasetFilters());
        filters.putAll(dataset.options().filters());
        ReaderOptions options = dataset.options().withRanking(plan.ranking().isPresent()).withFilters(filters);
        return new Dataset(dataset.path(), dataset.format(), options, dataset.filter());
    }

    public Plan plan() {
        return plan;
    }

    public ModelRef model() {
        return model;
    }

    /** How many samples (ranking: queries) the run covers: the experiment's planned sample count. */
    public long planned() {
        return planned;
    }

    /** How many WorkItems {@link #items()} yields: {@link #planned()} plus the extra parts of split queries. */
    public long plannedItems() {
        return plannedItems;
    }

    /** What the first pass read (records, samples, skipped lines). */
    public ReadCounts firstPassCounts() {
        return scan.counts();
    }

    /** The keyed WorkItems, generated lazily on demand (a second pass streams the file when there is no selection). */
    public Flux<KeyedWork> items() {
        return samples().concatMapIterable(this::keyedWork);
    }

    /** The run's samples, in the order their WorkItems are made. */
    public Flux<Sample> samples() {
        Flux<Sample> samples = scan.selection().map(Flux::fromIterable)
                .orElseGet(() -> Flux.using(dataset::open, WorkPlan::samplesOf, SampleReader::close));
        return samples.take(planned);
    }

    /** Whether the WorkItems wait for the generator workers' answers ({@link SurrogateJoin}) instead of {@link #items()}. */
    public boolean needsSurrogates() {
        return plan.generation().isPresent();
    }

    /** What the generator workers are asked for this sample: every template of the plan, and the texts to embed. */
    public SurrogateRequest request(Sample sample, long requestedAtMillis) {
        GenerationSpec g = plan.generation().orElseThrow(() -> new IllegalStateException(plan.source() + ": no generation block"));
        List<NamedText> templates = new ArrayList<>();
        boolean generates = plan.conditions().stream().anyMatch(c -> plan.streamedTemplate(c).isPresent());
        if (generates) {
            g.templates().forEach((name, text) -> templates.add(new NamedText(name, text)));
        }
        List<NamedText> texts = new ArrayList<>();
        expander.embeddedOnlyTexts(sample).forEach((name, text) -> texts.add(new NamedText(name, text)));
        SurrogateRequest request = SurrogateRequest.newBuilder()
                .setExperimentId(plan.experimentId())
                .setSampleId(sample.getId())
                .setPlanHash(plan.hash())
                .setRequestHash("")
                .setDocument(sample.getPassage())
                .setQuery(sample.getQuery())
                .setGenerator(generates ? g.model().orElseThrow() : null)
                .setTemplates(templates)
                .setTexts(texts)
                .setSettings(g.settings())
                .setEmbedder(g.embedder().orElse(null))
                .setRequestedAt(0L)
                .build();
        // the hash covers everything that decides the answers; the request time does not
        request.setRequestHash(Seeds.hex(AvroSerde.of(SurrogateRequest.class).encode(request)));
        request.setRequestedAt(requestedAtMillis);
        return request;
    }

    /** The sample's WorkItem with the generator workers' answers joined in. */
    public KeyedWork joined(Sample sample, GeneratedTexts answers) {
        return new KeyedWork(Topics.workKey(plan.experimentId(), sample.getId()),
                expander.workItem(sample, model, planned, clock.getAsLong(), answers));
    }

    private List<KeyedWork> keyedWork(Sample sample) {
        List<Sample> parts = ranking.split(sample);
        List<KeyedWork> out = new ArrayList<>(parts.size());
        for (int i = 0; i < parts.size(); i++) {
            out.add(new KeyedWork(Topics.workKey(plan.experimentId(), RankingWork.sampleKey(sample, i, parts.size())),
                    expander.workItem(parts.get(i), model, planned, clock.getAsLong())));
        }
        return out;
    }

    private static Flux<Sample> samplesOf(SampleReader reader) {
        return Flux.fromIterable(() -> reader);
    }
}
