package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dkv.aggregator.service.Aggregator;
import dkv.aggregator.service.PublishCadence;
import dkv.avro.ConditionSpec;
import dkv.avro.DeadLetter;
import dkv.avro.ModelRef;
import dkv.avro.PairedStats;
import dkv.avro.Placement;
import dkv.avro.Sample;
import dkv.avro.ScoreRecord;
import dkv.avro.StatsSnapshot;
import dkv.avro.WorkItem;
import dkv.platform.config.KafkaSettings;
import dkv.platform.testing.SharedKafka;
import dkv.platform.testing.TopicReader;
import dkv.producers.KeyedWork;
import dkv.producers.Progress;
import dkv.producers.WorkPlan;
import dkv.producers.WorkPublisher;
import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.ReaderOptions;
import dkv.producers.plan.Plan;
import dkv.producers.surrogate.GeneratorResources;
import dkv.scorers.worker.ScorerWorker;
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
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 7: two scorer worker processes share the work; one is SIGKILLed mid-run and restarted with the same
 * worker id. A read_committed reader must then see every (sample, condition) exactly once, the aggregator
 * must count every planned sample once per condition, and poison work items must sit in dkv.dead with their
 * reasons while the rest completes.
 */
class ScorerExactlyOnceTest {
    private static final String MODEL_ID = "fixture-llama";
    private static final int SAMPLES = 48;
    private static final int CONDITIONS = 3;
    private static final Duration PATIENCE = Duration.ofSeconds(90);

    @TempDir
    Path dir;

    @Test
    @Timeout(300)
    void aKilledWorkerLosesAndDuplicatesNothing() throws Exception {
        long t0 = System.nanoTime();
        String bootstrap = SharedKafka.bootstrapServers();
        KafkaSettings settings = SharedKafka.settings();
        phase(t0, "broker up");
        Path model = ScoreCommandTest.FIXTURE_MODEL.toAbsolutePath().normalize();

        Plan plan = Plan.load(Path.of("src", "test", "resources", "score", "eos-plan.json"));
        Path samples = writeSamples(dir.resolve("samples.jsonl"));
        WorkPlan work = WorkPlan.prepare(plan, Dataset.of(samples, Optional.empty(), ReaderOptions.defaults()), GeneratorResources.none(),
                Optional.of(ModelRef.newBuilder().setId(MODEL_ID).setRevision(null).build()), Optional.empty(), System::currentTimeMillis);
        assertEquals(SAMPLES, work.planned());
        WorkPublisher publisher = new WorkPublisher(settings, Topics.WORK, Topics.DEFAULT_WORK_PARTITIONS, 64);
        publisher.ensureTopics((short) 1);
        int workPartitions = workPartitions(bootstrap);
        assertTrue(workPartitions >= 2, Topics.WORK + " has " + workPartitions + " partition(s): two workers cannot share it");
        phase(t0, "topics ready");

        Path logs = Files.createDirectories(dir.resolve("logs"));
        try (ScorerProcess a = ScorerProcess.start(bootstrap, model, MODEL_ID, "eos-a", logs);
             ScorerProcess b = ScorerProcess.start(bootstrap, model, MODEL_ID, "eos-b", logs, "--metrics-port", "0")) {
            // Publish only once both workers hold partitions: otherwise the first one in the group can score
            // everything before the other joins, and there is no mid-run to kill it in. "serving" alone is not
            // enough: it is printed before the consumer's first poll joins the group (a CI run lost the race).
            awaitServing(a, b);
            awaitBothAssigned(bootstrap, a, b);
            phase(t0, "both workers hold partitions");
            for (ScorerProcess w : List.of(a, b)) { // and each says which, within a second
                awaitLog(w, Pattern.compile(w.workerId() + " holds \\d+ partitions: dkv\\.work\\[\\d+(,\\d+)*]"),
                        System.nanoTime() + Duration.ofSeconds(30).toNanos());
            }
            publisher.publish(work, new Progress(work.planned(), Duration.ofHours(1), System::nanoTime, line -> {}));
            sendPoison(bootstrap, work.items().blockFirst());
            phase(t0, "work published");
            List<ScoreRecord> beforeKill = awaitScores(bootstrap, records -> records.stream().filter(r -> r.getWorker().equals("eos-a")).count() >= 6,
                    a, b);
            a.kill();
            phase(t0, "killed eos-a after " + beforeKill.size() + " committed scores");
            assertTrue(beforeKill.size() < SAMPLES * CONDITIONS, "killed before the end: " + beforeKill.size() + " records");

            try (ScorerProcess restarted = ScorerProcess.start(bootstrap, model, MODEL_ID, "eos-a", logs)) {
                awaitScores(bootstrap, records -> keys(records).size() >= SAMPLES * CONDITIONS, restarted, b);
                phase(t0, "all scores committed");
                assertPrometheusMetrics(b);
                assertGracefulStop(restarted);
                assertGracefulStop(b);
            }
        }

        phase(t0, "workers stopped");
        List<ScoreRecord> scores = committedScores(bootstrap);
        Map<String, Long> perKey = scores.stream().collect(Collectors.groupingBy(
                r -> Topics.scoreKey(r.getExperimentId(), r.getSampleId(), r.getCondition()), TreeMap::new, Collectors.counting()));
        assertEquals(SAMPLES * CONDITIONS, perKey.size(), "every (sample, condition) scored");
        perKey.forEach((key, n) -> assertEquals(1L, n, key + " seen " + n + " times by a read_committed reader"));
        assertTrue(scores.stream().anyMatch(r -> r.getWorker().equals("eos-b")), "both workers took part");
        for (ScoreRecord r : scores) {
            assertEquals(MODEL_ID, r.getModel().getId());
            assertEquals(plan.hash(), r.getPlanHash());
            assertEquals("cpu", r.getDevice());
            assertEquals("float32", r.getDtype());
            assertTrue(Double.isFinite(r.getNllMean()) && r.getNllMean() > 0, "nll of " + r.getSampleId());
        }

        Aggregator aggregator = new Aggregator(PublishCadence.DEFAULT, 0.05, System::currentTimeMillis);
        scores.forEach(aggregator::accept);
        aggregator.publish();
        StatsSnapshot stats = aggregator.latest().get(plan.experimentId());
        assertEquals(SAMPLES, stats.getSamples());
        assertEquals(SAMPLES * CONDITIONS, stats.getRecords());
        for (PairedStats c : stats.getConditions()) {
            assertEquals(SAMPLES, c.getN(), "aggregator n of " + c.getName());
        }

        List<DeadLetter> dead = TopicReader.readAll(bootstrap, Topics.DEAD, TopicReader.Isolation.READ_COMMITTED,
                        new StringDeserializer(), AvroSerde.of(DeadLetter.class)).stream()
                .map(ConsumerRecord::value).filter(d -> d.getKey() != null && key(d).startsWith(plan.experimentId() + "/poison-")).toList();
        Map<String, DeadLetter> byKey = dead.stream().collect(Collectors.toMap(ScorerExactlyOnceTest::key, d -> d));
        assertEquals(3, dead.size(), "each poison item dead-lettered once: " + dead);
        assertEquals("decode", byKey.get("eos/poison-bytes").getStage());
        assertTrue(byKey.get("eos/poison-bytes").getMessage().contains("cannot decode WorkItem"), byKey.toString());
        assertEquals("process", byKey.get("eos/poison-glm").getStage());
        assertTrue(byKey.get("eos/poison-glm").getMessage().contains("requires model family 'glm'"), byKey.toString());
        assertTrue(byKey.get("eos/poison-glm").getError().endsWith("UnsupportedConditionException"), byKey.toString());
        assertTrue(byKey.get("eos/poison-model").getMessage().contains("wants model 'another-model'"), byKey.toString());
    }

    private static void phase(long t0, String what) {
        System.err.printf("ScorerExactlyOnceTest: %.1f s: %s%n", (System.nanoTime() - t0) / 1e9, what);
    }

    /** The worker's /metrics (port from its log) counts records and times each condition. */
    private static void assertPrometheusMetrics(ScorerProcess worker) throws Exception {
        Matcher port = Pattern.compile("metrics on http://127.0.0.1:(\\d+)/metrics").matcher(worker.log());
        assertTrue(port.find(), worker.log());
        String scrape = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port.group(1) + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertTrue(scrape.contains("dkv_scorer_records_total{worker=\"eos-b\"}"), scrape);
        assertTrue(scrape.contains("dkv_scorer_latency_seconds_count{condition=\"trunc\",worker=\"eos-b\"}"), scrape);
    }

    /** SIGTERM: the JVM exits 143 after the worker committed or aborted its batch and left the group. */
    private static void assertGracefulStop(ScorerProcess worker) throws InterruptedException {
        int exit = worker.stop(Duration.ofSeconds(30));
        String log = worker.log();
        assertEquals(143, exit, "exit on SIGTERM of " + worker.workerId() + ":\n" + log);
        assertTrue(log.contains(worker.workerId() + " stopped gracefully"), log);
    }

    /** Samples built from the fixture's three texts (words its tiny tokenizer knows), each id distinct. */
    private static Path writeSamples(Path file) throws Exception {
        List<String> base = Files.readAllLines(ScoreCommandTest.SAMPLES, StandardCharsets.UTF_8);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < SAMPLES; i++) {
            lines.add(base.get(i % base.size()).replaceFirst("\"id\": \"s\\d\"", "\"id\": \"eos-" + i + "\""));
        }
        return Files.write(file, lines, StandardCharsets.UTF_8);
    }

    /** Bytes that are not Avro, a placement the llama family cannot run, and another model's work. */
    private static void sendPoison(String bootstrap, KeyedWork template) throws Exception {
        AvroSerde<WorkItem> serde = AvroSerde.of(WorkItem.class);
        WorkItem item = template.item();
        Sample glmSample = Sample.newBuilder(item.getSample()).setId("poison-glm").build();
        WorkItem glm = WorkItem.newBuilder(item).setSample(glmSample).setConditions(List.of(ConditionSpec.newBuilder()
                .setName("glm_prefix_lm").setPlacement(Placement.PREFIX_LM).setSurrogate("a question").setRequiresFamily("glm").build())).build();
        WorkItem otherModel = WorkItem.newBuilder(item).setSample(Sample.newBuilder(item.getSample()).setId("poison-model").build())
                .setModel(ModelRef.newBuilder().setId("another-model").setRevision(null).build()).build();
        try (var producer = new KafkaProducer<>(Map.<String, Object>of("bootstrap.servers", bootstrap), new StringSerializer(), new ByteArraySerializer())) {
            producer.send(new ProducerRecord<>(Topics.WORK, "eos/poison-bytes", "definitely not avro".getBytes(StandardCharsets.UTF_8))).get();
            producer.send(new ProducerRecord<>(Topics.WORK, "eos/poison-glm", serde.encode(glm))).get();
            producer.send(new ProducerRecord<>(Topics.WORK, "eos/poison-model", serde.encode(otherModel))).get();
        }
    }

    private static String key(DeadLetter d) {
        var bytes = d.getKey().duplicate();
        byte[] raw = new byte[bytes.remaining()];
        bytes.get(raw);
        return new String(raw, StandardCharsets.UTF_8);
    }

    private static List<ScoreRecord> committedScores(String bootstrap) {
        return TopicReader.readAll(bootstrap, Topics.SCORES, TopicReader.Isolation.READ_COMMITTED, new StringDeserializer(),
                AvroSerde.of(ScoreRecord.class)).stream().map(ConsumerRecord::value).filter(r -> r.getExperimentId().equals("eos")).toList();
    }

    private static Set<String> keys(List<ScoreRecord> records) {
        return records.stream().map(r -> r.getSampleId() + "/" + r.getCondition()).collect(Collectors.toSet());
    }

    /** Waits until every worker has loaded its model and started its pipeline; fails with the logs otherwise. */
    private static void awaitServing(ScorerProcess... workers) throws InterruptedException {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        for (ScorerProcess w : workers) {
            awaitLog(w, Pattern.compile("serving model"), deadline);
        }
    }

    /** Waits until the worker's log has a line matching {@code line}; fails with its log if it dies or time runs out. */
    private static void awaitLog(ScorerProcess worker, Pattern line, long deadlineNanos) throws InterruptedException {
        while (!line.matcher(worker.log()).find()) {
            if (!worker.isAlive() || System.nanoTime() > deadlineNanos) {
                fail("no line matching '" + line + "' from " + worker.workerId() + ":\n" + worker.log());
            }
            Thread.sleep(100);
        }
    }

    /** Waits until the scorer group is stable and each worker's static member holds at least one work partition. */
    private static void awaitBothAssigned(String bootstrap, ScorerProcess... workers) throws InterruptedException {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        String seen = "nothing";
        try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", bootstrap))) {
            while (System.nanoTime() < deadline) {
                Optional<ConsumerGroupDescription> group = describe(admin, ScorerWorker.GROUP); // empty until one joins
                if (group.isPresent()) {
                    seen = group.get().toString();
                    Map<String, Integer> held = group.get().members().stream().filter(m -> m.groupInstanceId().isPresent())
                            .collect(Collectors.toMap(m -> m.groupInstanceId().get(), m -> (int) m.assignment().topicPartitions()
                                    .stream().filter(tp -> tp.topic().equals(Topics.WORK)).count()));
                    if (group.get().groupState() == GroupState.STABLE
                            && Arrays.stream(workers).allMatch(w -> held.getOrDefault(w.workerId(), 0) > 0)) {
                        return;
                    }
                }
                failIfOneExited(workers);
                Thread.sleep(100);
            }
        }
        fail("the workers did not both get partitions within " + PATIENCE + "; last group state: " + seen + "\n" + logsOf(workers));
    }

    private static int workPartitions(String bootstrap) throws Exception {
        try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", bootstrap))) {
            return admin.describeTopics(List.of(Topics.WORK)).allTopicNames().get().get(Topics.WORK).partitions().size();
        }
    }

    private static Optional<ConsumerGroupDescription> describe(Admin admin, String groupId) throws InterruptedException {
        try {
            return Optional.of(admin.describeConsumerGroups(List.of(groupId)).all().get().get(groupId));
        } catch (ExecutionException e) {
            if (e.getCause() instanceof GroupIdNotFoundException) {
                return Optional.empty();
            }
            throw new IllegalStateException("cannot describe group " + groupId, e.getCause());
        }
    }

    /** Polls the committed scores until {@code done} holds; fails with the workers' logs if one dies or time runs out. */
    private static List<ScoreRecord> awaitScores(String bootstrap, Predicate<List<ScoreRecord>> done, ScorerProcess... workers)
            throws InterruptedException {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (System.nanoTime() < deadline) {
            List<ScoreRecord> records = committedScores(bootstrap);
            if (done.test(records)) {
                return records;
            }
            failIfOneExited(workers);
            Thread.sleep(100);
        }
        fail("timed out after " + PATIENCE + " with " + committedScores(bootstrap).size() + " scores\n" + logsOf(workers));
        return List.of();
    }

    private static void failIfOneExited(ScorerProcess... workers) {
        for (ScorerProcess w : workers) {
            if (!w.isAlive()) {
                fail("worker " + w.workerId() + " exited:\n" + w.log());
            }
        }
    }

    private static String logsOf(ScorerProcess... workers) {
        StringBuilder logs = new StringBuilder();
        for (ScorerProcess w : workers) {
            logs.append("--- ").append(w.workerId()).append('\n').append(w.log());
        }
        return logs.toString();
    }
}
