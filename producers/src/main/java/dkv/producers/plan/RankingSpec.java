package dkv.producers.plan;

import java.util.Locale;

/**
 * A plan's ranking settings: each WorkItem carries a query's candidates (Sample.candidates), every one scored under
 * every condition. A scorer batches one document prefill per candidate, so a very long candidate list is a very
 * large WorkItem: above {@code maxCandidates} the list is split over several WorkItems of the same query (the
 * aggregator joins them by query id) or the query is refused, as {@code overCap} says.
 */
public record RankingSpec(int maxCandidates, OverCap overCap) {
    public static final int DEFAULT_MAX_CANDIDATES = 100;

    public enum OverCap {
        SPLIT, REFUSE;

        static OverCap parse(String text) {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        }
    }

    public RankingSpec {
        if (maxCandidates < 1) {
            throw new IllegalArgumentException("max_candidates must be positive, got " + maxCandidates);
        }
    }

    public static RankingSpec defaults() {
        return new RankingSpec(DEFAULT_MAX_CANDIDATES, OverCap.SPLIT);
    }
}
