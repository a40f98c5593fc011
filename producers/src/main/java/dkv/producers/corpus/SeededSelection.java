package dkv.producers.corpus;

import dkv.avro.Sample;
import dkv.producers.Seeds;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;

/**
 * Deterministic sampling of {@code size} samples from a stream: keeps the samples with the smallest
 * seeded hash of their id (bottom-k), in O(size) memory. The choice depends only on the seed and the ids,
 * never on file order; the result comes out in hash order, a seeded shuffle, and a smaller selection is a
 * prefix of a larger one, so raising the sample count extends an experiment instead of replacing it.
 */
public final class SeededSelection {
    private record Entry(long rank, Sample sample) {}

    private final long seed;
    private final int size;
    private final PriorityQueue<Entry> largestFirst =
            new PriorityQueue<>(Comparator.comparingLong(Entry::rank).reversed());

    public SeededSelection(long seed, int size) {
        if (size < 1) {
            throw new IllegalArgumentException("sample count must be positive, got " + size);
        }
        this.seed = seed;
        this.size = size;
    }

    public void offer(Sample sample) {
        long rank = Seeds.derive(seed, "sample", sample.getId());
        if (largestFirst.size() < size) {
            largestFirst.add(new Entry(rank, sample));
        } else if (rank < largestFirst.peek().rank()) {
            largestFirst.poll();
            largestFirst.add(new Entry(rank, sample));
        }
    }

    public List<Sample> selected() {
        List<Entry> entries = new ArrayList<>(largestFirst);
        entries.sort(Comparator.comparingLong(Entry::rank));
        return entries.stream().map(Entry::sample).toList();
    }
}
