package dkv.aggregator.service;

import dkv.avro.ScoreRecord;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps each experiment to the plan it started with: the plan hash of its first score record. Records of another
 * plan under the same experiment id are refused, counted, and reported once per (experiment, plan) with the fix.
 * Merged, they would pair NLLs of conditions that share a name but not a definition (another surrogate, template
 * or placement), and the experiment's meta (baseline, oracle, planned size) would still be the first plan's.
 */
final class PlanChanges {
    private static final Logger log = LoggerFactory.getLogger(PlanChanges.class);

    private final Map<String, String> startedWith = new HashMap<>();
    private final Map<String, Long> refusedByPlan = new HashMap<>();
    private volatile long refused; // read by the metrics scrape, written by the one consumer thread

    /** Fixes the plan of a new experiment. */
    void start(ScoreRecord first) {
        startedWith.put(first.getExperimentId(), first.getPlanHash());
    }

    /** True when {@code record} belongs to the plan its experiment started with; else counts and refuses it. */
    boolean admits(ScoreRecord record) {
        String plan = startedWith.get(record.getExperimentId());
        if (plan == null || plan.equals(record.getPlanHash())) {
            return true;
        }
        refused++;
        if (refusedByPlan.merge(record.getExperimentId() + "/" + record.getPlanHash(), 1L, Long::sum) == 1) {
            log.warn("experiment {}: score records of plan {} refused: the experiment started with plan {}; a changed"
                    + " plan needs its own experiment_id (further records of plan {} are counted, not logged)",
                    record.getExperimentId(), record.getPlanHash(), plan, record.getPlanHash());
        }
        return false;
    }

    long refused() {
        return refused;
    }
}
