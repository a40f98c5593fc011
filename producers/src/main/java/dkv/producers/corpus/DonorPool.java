package dkv.producers.corpus;

import dkv.avro.Sample;
import dkv.producers.Seeds;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.SplittableRandom;

/**
 * Other samples to borrow an irrelevant query or a random passage from. Holds a bounded, seeded sample of
 * the whole dataset (the {@code capacity} samples with the smallest seeded hash of their id), so it is
 * full before the first WorkItem is written, costs bounded memory, and picks the same donors whatever
 * the file order.
 */
public final class DonorPool {
    public static final int DEFAULT_CAPACITY = 256;

    private record Entry(long rank, Donor donor) {}

    /** What a donor lends: its id, query and scored passage. */
    public record Donor(String id, String query, String passage) {}

    private final long seed;
    private final int capacity;
    private final PriorityQueue<Entry> largestFirst =
            new PriorityQueue<>(Comparator.comparingLong(Entry::rank).reversed());
    private List<Donor> donors;

    public DonorPool(long seed, int capacity) {
        if (capacity < 2) {
            throw new IllegalArgumentException("donor pool capacity must be at least 2, got " + capacity);
        }
        this.seed = seed;
        this.capacity = capacity;
    }

    public void offer(Sample sample) {
        long rank = Seeds.derive(seed, "donor", sample.getId());
        if (largestFirst.size() < capacity) {
            largestFirst.add(new Entry(rank, new Donor(sample.getId(), sample.getQuery(), sample.getPassage())));
            donors = null;
        } else if (rank < largestFirst.peek().rank()) {
            largestFirst.poll();
            largestFirst.add(new Entry(rank, new Donor(sample.getId(), sample.getQuery(), sample.getPassage())));
            donors = null;
        }
    }

    public int size() {
        return largestFirst.size();
    }

    /** A donor other than {@code sampleId}, chosen by {@code random}. */
    public Donor pick(String sampleId, SplittableRandom random) {
        List<Donor> all = donors();
        if (all.size() < 2 && (all.isEmpty() || all.getFirst().id().equals(sampleId))) {
            throw new IllegalStateException("no other sample to borrow from: the dataset has fewer than 2 samples");
        }
        int start = random.nextInt(all.size());
        for (int i = 0; i < all.size(); i++) {
            Donor donor = all.get((start + i) % all.size());
            if (!donor.id().equals(sampleId)) {
                return donor;
            }
        }
        throw new IllegalStateException("every donor has id " + sampleId);
    }

    private List<Donor> donors() {
        if (donors == null) {
            List<Entry> entries = new ArrayList<>(largestFirst);
            entries.sort(Comparator.comparingLong(Entry::rank));
            donors = entries.stream().map(Entry::donor).toList();
        }
        return donors;
    }
}
