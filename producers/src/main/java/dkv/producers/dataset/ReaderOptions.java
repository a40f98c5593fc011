package dkv.producers.dataset;

/**
 * How raw records become Samples.
 *
 * @param choice  which passage is scored
 * @param seed    seeds the RANDOM passage choice
 * @param skipBad a malformed record is counted and skipped instead of failing the run
 */
public record ReaderOptions(PassageChoice choice, long seed, boolean skipBad) {
    public static final long DEFAULT_SEED = 42;

    public static ReaderOptions defaults() {
        return new ReaderOptions(PassageChoice.SELECTED, DEFAULT_SEED, false);
    }

    public ReaderOptions withSkipBad(boolean skip) {
        return new ReaderOptions(choice, seed, skip);
    }
}
