package dkv.producers.dataset;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * How raw records become Samples.
 *
 * @param choice  which passage is scored
 * @param seed    seeds the RANDOM passage choice
 * @param skipBad a malformed record is counted and skipped instead of failing the run
 * @param ranking MS MARCO samples also carry their passages as ranking candidates (ESCI and WANDS always do)
 * @param filters dataset filters by column (e.g. ESCI's {@code split=test}); each reader names those it accepts
 */
public record ReaderOptions(PassageChoice choice, long seed, boolean skipBad, boolean ranking, Map<String, String> filters) {
    public static final long DEFAULT_SEED = 42;

    public ReaderOptions {
        filters = Collections.unmodifiableSortedMap(new TreeMap<>(filters));
    }

    public ReaderOptions(PassageChoice choice, long seed, boolean skipBad) {
        this(choice, seed, skipBad, false, Map.of());
    }

    public static ReaderOptions defaults() {
        return new ReaderOptions(PassageChoice.SELECTED, DEFAULT_SEED, false);
    }

    public ReaderOptions withSkipBad(boolean skip) {
        return new ReaderOptions(choice, seed, skip, ranking, filters);
    }

    public ReaderOptions withRanking(boolean rankingSamples) {
        return new ReaderOptions(choice, seed, skipBad, rankingSamples, filters);
    }

    public ReaderOptions withFilters(Map<String, String> datasetFilters) {
        return new ReaderOptions(choice, seed, skipBad, ranking, datasetFilters);
    }
}
