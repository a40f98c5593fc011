package dkv.aggregator.service;

import dkv.aggregator.state.ExperimentPlan;
import dkv.aggregator.state.ExperimentState;
import dkv.aggregator.state.Score;
import dkv.avro.ScoreRecord;
import dkv.avro.StatsSnapshot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The aggregator's logic without Kafka: score records in, snapshots out on the publish cadence. Not thread-safe
 * for writers (one consumer thread feeds it); {@link #latest()} may be read from any thread.
 */
public final class Aggregator {
    private static final Logger log = LoggerFactory.getLogger(Aggregator.class);
    /** Weight of the newest interval in the smoothed records/s. */
    private static final double RATE_SMOOTHING = 0.3;

    private final PublishCadence cadence;
    private final double alpha;
    private final LongSupplier clockMillis;
    private final Map<String, ExperimentState> experiments = new LinkedHashMap<>();
    private final Map<String, Rate> rates = new LinkedHashMap<>();
    private final Set<String> changed = new LinkedHashSet<>();
    private final Map<String, StatsSnapshot> latest = new ConcurrentHashMap<>();
    private long sincePublish;
    private long lastPublishMillis;
    private long withoutPlan;
    private final PlanChanges planChanges = new PlanChanges();

    private static final class Rate {
        long records;
        long atMillis;
        double perSecond;
    }

    public Aggregator(PublishCadence cadence, double alpha, LongSupplier clockMillis) {
        this.cadence = cadence;
        this.alpha = alpha;
        this.clockMillis = clockMillis;
        this.lastPublishMillis = clockMillis.getAsLong();
    }

    /** Adds a record; returns the snapshots due now (empty most of the time). */
    public List<StatsSnapshot> accept(ScoreRecord record) {
        ExperimentState state = experiments.get(record.getExperimentId());
        if (state == null) {
            if (record.getMeta() == null) {
                // the plan (baseline, contrasts) travels with every score; without it nothing can be paired
                if (withoutPlan++ == 0) {
                    log.warn("score {}/{}/{} carries no experiment meta: skipped (and so will be others like it)",
                            record.getExperimentId(), record.getSampleId(), record.getCondition());
                }
                return List.of();
            }
            state = new ExperimentState(record.getExperimentId(), ExperimentPlan.of(record.getMeta(), alpha));
            experiments.put(record.getExperimentId(), state);
            planChanges.start(record);
        } else if (!planChanges.admits(record)) {
            return List.of();
        }
        if (state.accept(Score.of(record))) {
            changed.add(record.getExperimentId());
            sincePublish++;
        }
        if (sincePublish >= cadence.everyRecords() || clockMillis.getAsLong() - lastPublishMillis >= cadence.everyMillis()) {
            return publish();
        }
        return List.of();
    }

    /** Snapshots due by time alone (called when records stop arriving, so the last ones still get published). */
    public List<StatsSnapshot> publishIfDue() {
        if (!changed.isEmpty() && clockMillis.getAsLong() - lastPublishMillis >= cadence.everyMillis()) {
            return publish();
        }
        return List.of();
    }

    /** Snapshots of every experiment changed since the last publication. */
    public List<StatsSnapshot> publish() {
        long now = clockMillis.getAsLong();
        List<StatsSnapshot> out = new ArrayList<>(changed.size());
        for (String id : changed) {
            ExperimentState state = experiments.get(id);
            StatsSnapshot snapshot = state.snapshot(now, rate(id, state.records(), now));
            latest.put(id, snapshot);
            out.add(snapshot);
        }
        changed.clear();
        sincePublish = 0;
        lastPublishMillis = now;
        return out;
    }

    private double rate(String id, long records, long now) {
        Rate rate = rates.get(id);
        if (rate == null) {
            rate = new Rate();
            rate.records = records;
            rate.atMillis = now;
            rates.put(id, rate);
            return 0;
        }
        if (now > rate.atMillis) {
            double current = (records - rate.records) * 1000.0 / (now - rate.atMillis);
            rate.perSecond = rate.perSecond == 0 ? current : RATE_SMOOTHING * current + (1 - RATE_SMOOTHING) * rate.perSecond;
            rate.records = records;
            rate.atMillis = now;
        }
        return rate.perSecond;
    }

    /** The last published snapshot of each experiment. */
    public Map<String, StatsSnapshot> latest() {
        return Collections.unmodifiableMap(latest);
    }

    public long recordsWithoutPlan() {
        return withoutPlan;
    }

    /** Records refused because their plan hash is not the one their experiment started with. */
    public long recordsOfOtherPlans() {
        return planChanges.refused();
    }
}
