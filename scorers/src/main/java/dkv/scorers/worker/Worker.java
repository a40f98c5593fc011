package dkv.scorers.worker;

import dkv.schemas.Topics;
import java.util.Optional;

/** What a launcher watches of a running worker of a consumer group (scorer or generator). */
public interface Worker extends AutoCloseable {

    /**
     * How a worker joins its consumer group and sizes its transactions (a scorer, a generator).
     *
     * @param groupId           the consumer group
     * @param workerId          stable across restarts of this worker (see {@link WorkerIds})
     * @param maxPollRecords    input records per transaction at most
     * @param workPartitions    partitions of the partitioned dkv topics when this worker creates them
     * @param replicationFactor of the topics this worker creates
     */
    record Options(String groupId, String workerId, int maxPollRecords, int workPartitions, short replicationFactor) {
        public Options {
            if (maxPollRecords < 1) {
                throw new IllegalArgumentException("--max-poll-records must be at least 1, got " + maxPollRecords);
            }
        }

        /** Four records per transaction, the default partitions, replication 1. */
        public static Options of(String groupId, String workerId) {
            return new Options(groupId, workerId, 4, Topics.DEFAULT_WORK_PARTITIONS, (short) 1);
        }

        public Options withMaxPollRecords(int records) {
            return new Options(groupId, workerId, records, workPartitions, replicationFactor);
        }
    }

    String workerId();

    boolean isRunning();

    /** Why the worker stopped on its own, if it did. */
    Optional<Throwable> failure();

    /** Graceful: what is in progress is committed, then the worker leaves its group. */
    @Override
    void close();
}
