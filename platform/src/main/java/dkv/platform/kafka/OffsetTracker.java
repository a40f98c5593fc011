package dkv.platform.kafka;

import java.util.OptionalLong;
import java.util.TreeSet;

/**
 * Offsets of one partition handed out for processing, and which of them are acknowledged. Records may be
 * acknowledged out of order (e.g. with concurrent processing); only the contiguous acknowledged prefix is
 * committable, so a crash never skips an unprocessed record.
 */
final class OffsetTracker {
    private final TreeSet<Long> outstanding = new TreeSet<>();
    private long nextAfterRegistered = -1;
    private long lastCommitted = -1;

    /** Offsets must be registered in increasing order, as a partition delivers them. */
    synchronized void register(long offset) {
        if (offset < nextAfterRegistered) {
            throw new IllegalStateException("offset " + offset + " registered after " + (nextAfterRegistered - 1));
        }
        outstanding.add(offset);
        nextAfterRegistered = offset + 1;
    }

    synchronized void acknowledge(long offset) {
        outstanding.remove(offset);
    }

    /** The offset to commit (next record to read) if it moved since the last commit. */
    synchronized OptionalLong committable() {
        if (nextAfterRegistered < 0) {
            return OptionalLong.empty();
        }
        long next = outstanding.isEmpty() ? nextAfterRegistered : outstanding.first();
        return next > lastCommitted ? OptionalLong.of(next) : OptionalLong.empty();
    }

    synchronized void committed(long offset) {
        lastCommitted = Math.max(lastCommitted, offset);
    }

    synchronized int outstandingCount() {
        return outstanding.size();
    }
}
