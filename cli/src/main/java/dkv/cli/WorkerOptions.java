package dkv.cli;

import dkv.scorers.worker.WorkerIds;
import picocli.CommandLine.Option;

/** A worker's identity and the layout of the topics it creates, shared by {@code dkv scorer} and {@code dkv generator}. */
public final class WorkerOptions {

    @Option(names = "--worker-id", paramLabel = "ID",
            description = "stable id of this worker: static group member and transactional id (default: <role>-<host>-<index>)")
    String workerId;

    @Option(names = "--worker-index", paramLabel = "N", defaultValue = "0",
            description = "index in the default worker id, for several workers on one host (default: ${DEFAULT-VALUE})")
    int workerIndex;

    @Option(names = "--work-partitions", defaultValue = "24", paramLabel = "N",
            description = "partitions of the partitioned dkv topics if this worker creates them (default: ${DEFAULT-VALUE})")
    int workPartitions;

    @Option(names = "--replication-factor", defaultValue = "1", paramLabel = "N",
            description = "replication factor of topics this worker creates (default: ${DEFAULT-VALUE})")
    short replicationFactor;

    /** {@code --worker-id}, else {@code role-<host>-<index>}. */
    String id(String role) {
        return workerId != null ? workerId : WorkerIds.local(role, workerIndex);
    }
}
