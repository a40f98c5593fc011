package dkv.producers;

import dkv.avro.ModelRef;
import dkv.avro.Sample;
import dkv.producers.corpus.CorpusScan;
import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.ReadCounts;
import dkv.producers.dataset.SampleReader;
import dkv.producers.plan.Plan;
import dkv.producers.plan.PlanExpander;
import dkv.producers.surrogate.GeneratorResources;
import dkv.schemas.Topics;
import java.util.Optional;
import java.util.function.LongSupplier;
import reactor.core.publisher.Flux;

/**
 * A plan applied to a dataset: the first pass (counts, TF-IDF statistics, donors, seeded selection),
 * then a lazy stream of keyed WorkItems. Samples come either from the seeded selection (when the plan
 * names a sample count) or from a second streaming pass over the file in its order.
 */
public final class WorkPlan {
    private final Plan plan;
    private final Dataset dataset;
    private final ModelRef model;
    private final CorpusScan scan;
    private final PlanExpander expander;
    private final long planned;
    private final Optional<Integer> limit;
    private final LongSupplier clock;

    private WorkPlan(Plan plan, Dataset dataset, ModelRef model, CorpusScan scan, PlanExpander expander, long planned,
            Optional<Integer> limit, LongSupplier clock) {
        this.plan = plan;
        this.dataset = dataset;
        this.model = model;
        this.scan = scan;
        this.expander = expander;
        this.planned = planned;
        this.limit = limit;
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
        Optional<Integer> selection = plan.samples().map(n -> limit.map(l -> Math.min(l, n)).orElse(n));
        // the plan's data filter applies to both passes: statistics, donors and selection see only qualifying samples
        Dataset qualifying = dataset.filtered(plan.data().filter(resources, plan.source()));
        CorpusScan scan = CorpusScan.run(qualifying, plan.seed(), selection);
        PlanExpander expander = plan.expander(resources, scan.corpus());
        long available = scan.selection().map(s -> (long) s.size()).orElse(scan.corpus().samples());
        long planned = limit.map(l -> Math.min(l, available)).orElse(available);
        return new WorkPlan(plan, qualifying, ref, scan, expander, planned, limit, epochMillis);
    }

    public Plan plan() {
        return plan;
    }

    public ModelRef model() {
        return model;
    }

    /** How many WorkItems {@link #items()} yields. */
    public long planned() {
        return planned;
    }

    /** What the first pass read (records, samples, skipped lines). */
    public ReadCounts firstPassCounts() {
        return scan.counts();
    }

    /** The keyed WorkItems, generated lazily on demand (a second pass streams the file when there is no selection). */
    public Flux<KeyedWork> items() {
        Flux<Sample> samples = scan.selection().map(Flux::fromIterable)
                .orElseGet(() -> Flux.using(dataset::open, WorkPlan::samplesOf, SampleReader::close));
        return samples.take(planned)
                .map(sample -> new KeyedWork(Topics.workKey(plan.experimentId(), sample.getId()),
                        expander.workItem(sample, model, planned, clock.getAsLong())));
    }

    private static Flux<Sample> samplesOf(SampleReader reader) {
        return Flux.fromIterable(() -> reader);
    }
}
