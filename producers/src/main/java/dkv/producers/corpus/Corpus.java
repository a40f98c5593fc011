package dkv.producers.corpus;

/** What generators may know about the dataset beyond the current sample. */
public record Corpus(DocumentFrequencies frequencies, DonorPool donors, long samples) {
    /** For callers that score a few samples without corpus-dependent surrogates. */
    public static Corpus empty(long seed) {
        return new Corpus(new DocumentFrequencies(), new DonorPool(seed, DonorPool.DEFAULT_CAPACITY), 0);
    }
}
