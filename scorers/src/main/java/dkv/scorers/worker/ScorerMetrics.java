package dkv.scorers.worker;

import dkv.avro.ScoreRecord;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * What a scorer worker reports to Prometheus: records scored ({@code dkv_scorer_records_total}), work items
 * by outcome ({@code dkv_scorer_work_items_total}) and the scoring latency of each condition
 * ({@code dkv_scorer_latency_seconds{condition=...}}, from the records' own {@code score_ms}).
 * Counts are of scored work, before the transaction commits: an aborted batch is scored and counted again.
 */
public final class ScorerMetrics {
    private final MeterRegistry registry;
    private final String worker;
    private final Counter records;
    private final Counter scoredItems;
    private final Counter rejectedItems;
    private final ConcurrentMap<String, Timer> latency = new ConcurrentHashMap<>();

    public ScorerMetrics(MeterRegistry registry, String worker) {
        this.registry = registry;
        this.worker = worker;
        this.records = Counter.builder("dkv.scorer.records").description("score records produced")
                .tag("worker", worker).register(registry);
        this.scoredItems = Counter.builder("dkv.scorer.work.items").tag("worker", worker).tag("outcome", "scored").register(registry);
        this.rejectedItems = Counter.builder("dkv.scorer.work.items").tag("worker", worker).tag("outcome", "dead_letter").register(registry);
    }

    public void scored(java.util.List<ScoreRecord> produced) {
        scoredItems.increment();
        records.increment(produced.size());
        for (ScoreRecord r : produced) {
            latency.computeIfAbsent(r.getCondition(), c -> Timer.builder("dkv.scorer.latency")
                            .description("time to score one condition of one sample (shared prefill split among its users)")
                            .tag("worker", worker).tag("condition", c).register(registry))
                    .record(Duration.ofNanos((long) (r.getScoreMs() * 1e6)));
        }
    }

    public void rejected() {
        rejectedItems.increment();
    }

    public double recordsTotal() {
        return records.count();
    }

    /** Work items dead-lettered so far. */
    public double rejectedTotal() {
        return rejectedItems.count();
    }
}
