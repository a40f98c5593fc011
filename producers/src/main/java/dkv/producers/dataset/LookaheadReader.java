package dkv.producers.dataset;

import dkv.avro.Sample;
import java.util.NoSuchElementException;
import java.util.Optional;

/** The iterator half of every reader: pulls records until one becomes a Sample, applying skip-bad. */
abstract class LookaheadReader implements SampleReader {
    protected final ReaderOptions options;
    protected final ReadCounts counts = new ReadCounts();
    private Sample next;
    private boolean exhausted;

    LookaheadReader(ReaderOptions options) {
        this.options = options;
    }

    /**
     * Reads the next record. Returns null at end of input, an empty Optional for a record that was read
     * but yields no sample, and throws BadRecordException for a malformed one.
     */
    protected abstract Optional<Sample> readRecord();

    @Override
    public final boolean hasNext() {
        while (next == null && !exhausted) {
            try {
                Optional<Sample> record = readRecord();
                if (record == null) {
                    exhausted = true;
                } else {
                    counts.countRecord();
                    if (record.isPresent()) {
                        counts.countSample();
                        next = record.get();
                    }
                }
            } catch (BadRecordException e) {
                counts.countRecord();
                if (!options.skipBad()) {
                    throw e;
                }
                counts.countBad(e);
            }
        }
        return next != null;
    }

    @Override
    public final Sample next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        Sample sample = next;
        next = null;
        return sample;
    }

    @Override
    public final ReadCounts counts() {
        return counts;
    }
}
