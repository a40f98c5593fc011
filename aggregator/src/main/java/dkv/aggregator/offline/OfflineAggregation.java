package dkv.aggregator.offline;

import dkv.aggregator.state.ExperimentPlan;
import dkv.aggregator.state.ExperimentState;
import dkv.aggregator.state.Score;
import dkv.avro.StatsSnapshot;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Re-analysis of a finished score set: every experiment in the input gets the same plan; the anytime monitors
 * see the scores in input order, and N* defaults to each experiment's sample count (in a ranking experiment: its
 * (query, candidate) pairs).
 */
public final class OfflineAggregation {

    /**
     * Options common to all experiments of the input; {@code nStar} ≤ 0 means "the experiment's sample count".
     * Derived conditions are computed from the lines as the live aggregator computes them from records (ROUTED and
     * RANK_AVERAGE read the lines' {@code query_similarity}; ROUTED_BY_NLL and RANK_AVERAGE the NLLs of their signal
     * conditions' lines).
     */
    public record Options(String baseline, String oracle, List<ExperimentPlan.Pair> contrasts,
                          List<ExperimentPlan.Pair> correlations, double alpha, double nStar,
                          List<ExperimentPlan.Derived> derived) {
        public Options {
            derived = List.copyOf(derived);
        }

        public Options(String baseline, String oracle, List<ExperimentPlan.Pair> contrasts,
                       List<ExperimentPlan.Pair> correlations, double alpha, double nStar) {
            this(baseline, oracle, contrasts, correlations, alpha, nStar, List.of());
        }
    }

    private OfflineAggregation() {}

    public static Map<String, StatsSnapshot> run(List<Score> scores, Options options, long producedAtMillis) {
        Map<String, Set<String>> samples = new LinkedHashMap<>();
        for (Score s : scores) {
            samples.computeIfAbsent(s.experimentId(), k -> new HashSet<>()).add(s.unit());
        }
        Map<String, ExperimentState> states = new LinkedHashMap<>();
        samples.forEach((experiment, ids) -> {
            double nStar = options.nStar() > 0 ? options.nStar() : Math.max(1, ids.size());
            ExperimentPlan plan = new ExperimentPlan(options.baseline(), options.oracle(), options.contrasts(),
                    options.correlations(), 0, 0, options.alpha(), nStar, options.derived());
            states.put(experiment, new ExperimentState(experiment, plan));
        });
        for (Score s : scores) {
            states.get(s.experimentId()).accept(s);
        }
        Map<String, StatsSnapshot> out = new LinkedHashMap<>();
        states.forEach((experiment, state) -> {
            if (!state.hasCondition(options.baseline())) {
                throw new IllegalArgumentException("experiment '" + experiment + "' has no score of baseline '"
                        + options.baseline() + "'");
            }
            out.put(experiment, state.snapshot(producedAtMillis, 0));
        });
        return out;
    }
}
