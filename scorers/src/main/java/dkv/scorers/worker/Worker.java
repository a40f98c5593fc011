package dkv.scorers.worker;

import java.util.Optional;

/** What a launcher watches of a running worker of a consumer group (scorer or generator). */
public interface Worker extends AutoCloseable {

    String workerId();

    boolean isRunning();

    /** Why the worker stopped on its own, if it did. */
    Optional<Throwable> failure();

    /** Graceful: what is in progress is committed, then the worker leaves its group. */
    @Override
    void close();
}
