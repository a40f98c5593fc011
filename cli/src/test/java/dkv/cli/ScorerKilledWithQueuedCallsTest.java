package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dkv.avro.ModelRef;
import dkv.avro.ScoreRecord;
import dkv.platform.testing.SharedKafka;
import dkv.platform.testing.TopicReader;
import dkv.producers.Progress;
import dkv.producers.WorkPlan;
import dkv.producers.WorkPublisher;
import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.ReaderOptions;
import dkv.producers.plan.Plan;
import dkv.producers.surrogate.GeneratorResources;
import dkv.schemas.AvroSerde;
import dkv.schemas.Topics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19: a scorer worker is SIGKILLed while its pipeline holds prepared calls waiting for the score stage (read off
 * its own {@code dkv_pipeline_queue{stage="score"}} gauge just before the kill); restarted with the same worker id,
 * it must leave every (sample, condition) committed exactly once: prepared calls are never committed, so they are
 * read again, once.
 */
class ScorerKilledWithQueuedCallsTest {
    private static final String MODEL_ID = "fixture-llama";
    private static final String EXPERIMENT = "eos-queued";
    private static final int SAMPLES = 40;
    private static final int CONDITIONS = 3;
    private static final Duration PATIENCE = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    @Test
    @Timeout(300)
    void aWorkerKilledWithPreparedCallsQueuedLosesAndDuplicatesNothing() throws Exception {
        String bootstrap = SharedKafka.bootstrapServers();
        Path model = ScoreCommandTest.FIXTURE_MODEL.toAbsolutePath().normalize();
        Path planFile = Files.writeString(dir.resolve("plan.json"), Files.readString(Path.of("src", "test", "resources", "score", "eos-plan.json"))
                .replace("\"experiment_id\": \"eos\"", "\"experiment_id\": \"" + EXPERIMENT + "\""));
        Plan plan = Plan.load(planFile);
        assertEquals(EXPERIMENT, plan.experimentId());
        WorkPlan work = WorkPlan.prepare(plan, Dataset.of(samples(dir.resolve("samples.jsonl")), Optional.empty(), ReaderOptions.defaults()),
                GeneratorResources.none(), Optional.of(ModelRef.newBuilder().setId(MODEL_ID).setRevision(null).build()), Optional.empty(),
                System::currentTimeMillis);
        WorkPublisher publisher = new WorkPublisher(SharedKafka.settings(), Topics.WORK, Topics.DEFAULT_WORK_PARTITIONS, 64);
        publisher.ensureTopics((short) 1);

        Path logs = Files.createDirectories(dir.resolve("logs"));
        int queuedAtKill;
        int committedAtKill;
        try (ScorerProcess worker = ScorerProcess.start(bootstrap, model, MODEL_ID, "queued-a", logs, "--prefetch", "2", "--metrics-port", "0")) {
            awaitLog(worker, Pattern.compile("queued-a holds \\d+ partitions"));
            URI metrics = URI.create("http://127.0.0.1:" + port(worker) + "/metrics");
            publisher.publish(work, new Progress(work.planned(), Duration.ofHours(1), System::nanoTime, line -> {}));
            long deadline = System.nanoTime() + PATIENCE.toNanos();
            while (true) { // kill once the worker has committed some calls and holds prepared ones
                committedAtKill = committedScores(bootstrap).size();
                queuedAtKill = preparedCallsQueued(metrics);
                if (committedAtKill >= CONDITIONS && queuedAtKill >= 1) {
                    worker.kill();
                    break;
                }
                if (!worker.isAlive() || System.nanoTime() > deadline || committedAtKill == SAMPLES * CONDITIONS) {
                    fail("never saw a prepared call queued before the end (" + committedAtKill + " scores):\n" + worker.log());
                }
            }
        }
        assertTrue(committedAtKill < SAMPLES * CONDITIONS, "killed before the end: " + committedAtKill);

        try (ScorerProcess restarted = ScorerProcess.start(bootstrap, model, MODEL_ID, "queued-a", logs)) {
            long deadline = System.nanoTime() + PATIENCE.toNanos();
            while (keys(committedScores(bootstrap)).size() < SAMPLES * CONDITIONS) {
                if (!restarted.isAlive() || System.nanoTime() > deadline) {
                    fail("the restarted worker did not finish: " + committedScores(bootstrap).size() + " scores\n" + restarted.log());
                }
                Thread.sleep(100);
            }
            assertEquals(143, restarted.stop(Duration.ofSeconds(30)), restarted.log());
            assertTrue(restarted.log().contains("queued-a stopped gracefully"), restarted.log());
        }
        int queued = queuedAtKill;
        Map<String, Long> perKey = committedScores(bootstrap).stream()
                .collect(Collectors.groupingBy(r -> r.getSampleId() + "/" + r.getCondition(), TreeMap::new, Collectors.counting()));
        assertEquals(SAMPLES * CONDITIONS, perKey.size(), "every (sample, condition) scored");
        perKey.forEach((key, n) -> assertEquals(1L, n, key + " seen " + n + " times by a read_committed reader (" + queued
                + " prepared calls were queued at the kill)"));
    }

    /** The worker's own gauge of prepared calls waiting for its score stage. */
    private static int preparedCallsQueued(URI metrics) throws Exception {
        String scrape = HttpClient.newHttpClient().send(HttpRequest.newBuilder(metrics).build(), HttpResponse.BodyHandlers.ofString()).body();
        Matcher m = Pattern.compile("dkv_pipeline_queue\\{pipeline=\"queued-a\",stage=\"score\"} (\\d+)").matcher(scrape);
        if (!m.find()) {
            throw new AssertionError("no score-stage queue gauge in the worker's metrics:\n" + scrape);
        }
        return (int) Double.parseDouble(m.group(1));
    }

    private static int port(ScorerProcess worker) throws InterruptedException {
        Pattern port = Pattern.compile("metrics on http://127.0.0.1:(\\d+)/metrics");
        awaitLog(worker, port);
        Matcher m = port.matcher(worker.log());
        assertTrue(m.find());
        return Integer.parseInt(m.group(1));
    }

    private static void awaitLog(ScorerProcess worker, Pattern line) throws InterruptedException {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (!line.matcher(worker.log()).find()) {
            if (!worker.isAlive() || System.nanoTime() > deadline) {
                fail("no line matching '" + line + "' from " + worker.workerId() + ":\n" + worker.log());
            }
            Thread.sleep(100);
        }
    }

    private static Path samples(Path file) throws Exception {
        List<String> base = Files.readAllLines(ScoreCommandTest.SAMPLES, StandardCharsets.UTF_8);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < SAMPLES; i++) {
            lines.add(base.get(i % base.size()).replaceFirst("\"id\": \"s\\d\"", "\"id\": \"queued-" + i + "\""));
        }
        return Files.write(file, lines, StandardCharsets.UTF_8);
    }

    private static List<ScoreRecord> committedScores(String bootstrap) {
        return TopicReader.readAll(bootstrap, Topics.SCORES, TopicReader.Isolation.READ_COMMITTED, new StringDeserializer(),
                AvroSerde.of(ScoreRecord.class)).stream().map(ConsumerRecord::value).filter(r -> r.getExperimentId().equals(EXPERIMENT)).toList();
    }

    private static java.util.Set<String> keys(List<ScoreRecord> records) {
        return records.stream().map(r -> r.getSampleId() + "/" + r.getCondition()).collect(Collectors.toSet());
    }
}
