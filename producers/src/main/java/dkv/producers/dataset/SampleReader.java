package dkv.producers.dataset;

import dkv.avro.Sample;
import java.util.Iterator;

/**
 * Streams Samples from one dataset file, holding at most one record in memory. Closing releases the file.
 * A malformed record throws {@link BadRecordException} from {@code next()}/{@code hasNext()} unless the
 * options say skip-bad, in which case it is counted in {@link #counts()}.
 */
public interface SampleReader extends Iterator<Sample>, AutoCloseable {
    ReadCounts counts();

    @Override
    void close();
}
