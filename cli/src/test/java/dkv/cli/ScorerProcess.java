package dkv.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code dkv scorer} as a separate JVM (same java binary, the test classpath), its output in a log file, so a
 * test can SIGKILL it ({@link Process#destroyForcibly()} on Linux) as an operator or the OOM killer would.
 */
final class ScorerProcess implements AutoCloseable {
    private final String workerId;
    private final Process process;
    private final Path log;

    private ScorerProcess(String workerId, Process process, Path log) {
        this.workerId = workerId;
        this.process = process;
        this.log = log;
    }

    static ScorerProcess start(String bootstrap, Path model, String modelId, String workerId, Path logDir, String... extra)
            throws IOException {
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // surefire runs tests from a manifest-only jar; this property holds the real test classpath
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "-Dorg.apache.avro.SERIALIZABLE_PACKAGES=dkv.avro", "-Xmx384m", "-XX:TieredStopAtLevel=1",
                "-cp", classpath, "dkv.cli.Dkv", "scorer", "--bootstrap", bootstrap, "--model", model.toString(),
                "--model-id", modelId, "--worker-id", workerId, "--threads", "1", "--max-poll-records", "2"));
        command.addAll(List.of(extra));
        Path log = logDir.resolve(workerId + "-" + System.nanoTime() + ".log");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("OMP_NUM_THREADS", "1");
        return new ScorerProcess(workerId, builder.start(), log);
    }

    String workerId() {
        return workerId;
    }

    /** SIGKILL: no shutdown hook, no commit, no abort; the open transaction stays open. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /** SIGTERM, then the exit code of the graceful stop. */
    int stop(Duration timeout) throws InterruptedException {
        process.destroy();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            return -1;
        }
        return process.exitValue();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /**
     * SIGTERM first: a worker left behind by a failing test would otherwise die with its transaction open,
     * and every later read_committed reader of dkv.scores in this JVM would wait out the transaction timeout.
     */
    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            stop(Duration.ofSeconds(30));
        }
    }
}
