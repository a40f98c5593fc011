package dkv.producers.corpus;

import dkv.avro.Sample;
import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.ReadCounts;
import dkv.producers.dataset.SampleReader;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The first streaming pass over a dataset: counts samples, document frequencies over the scored passages
 * (TF-IDF needs them before the first keyword is written), fills the donor pool and, when a sample count
 * is asked for, makes the seeded selection. Memory: the vocabulary, the donor pool and the selection.
 *
 * @param selection the selected samples in emission order, or empty to stream the whole file again
 */
public record CorpusScan(Corpus corpus, ReadCounts counts, Optional<List<Sample>> selection) {

    public static CorpusScan run(Dataset dataset, long seed, Optional<Integer> sampleCount) {
        return run(dataset, seed, sampleCount, sample -> { });
    }

    /** As above, and {@code check} sees every sample first: it throws to stop the pass on a sample the run cannot use. */
    public static CorpusScan run(Dataset dataset, long seed, Optional<Integer> sampleCount, Consumer<Sample> check) {
        DocumentFrequencies frequencies = new DocumentFrequencies();
        DonorPool donors = new DonorPool(seed, DonorPool.DEFAULT_CAPACITY);
        Optional<SeededSelection> selection = sampleCount.map(n -> new SeededSelection(seed, n));
        long samples = 0;
        try (SampleReader reader = dataset.open()) {
            while (reader.hasNext()) {
                Sample sample = reader.next();
                check.accept(sample);
                samples++;
                frequencies.add(sample.getPassage());
                donors.offer(sample);
                selection.ifPresent(s -> s.offer(sample));
            }
            return new CorpusScan(new Corpus(frequencies, donors, samples), reader.counts(),
                    selection.map(SeededSelection::selected));
        }
    }
}
