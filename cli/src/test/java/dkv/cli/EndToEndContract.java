package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dkv.aggregator.service.AggregatorService;
import dkv.aggregator.service.PublishCadence;
import dkv.aggregator.web.LiveSnapshots;
import dkv.avro.ModelRef;
import dkv.avro.PairedStats;
import dkv.avro.ScoreRecord;
import dkv.avro.StatsSnapshot;
import dkv.platform.config.KafkaSettings;
import dkv.platform.kafka.TopicLayout;
import dkv.platform.pipeline.StagedCalls;
import dkv.platform.testing.TopicReader;
import dkv.producers.Progress;
import dkv.producers.WorkPlan;
import dkv.producers.WorkPublisher;
import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.ReaderOptions;
import dkv.producers.plan.Plan;
import dkv.producers.plan.PlanCondition;
import dkv.producers.surrogate.GeneratorResources;
import dkv.schemas.AvroSerde;
import dkv.schemas.Topics;
import dkv.scorers.model.LoadedModel;
import dkv.scorers.score.ScoreOptions;
import dkv.scorers.worker.ScoreBatchFunction;
import dkv.scorers.worker.ScorerMetrics;
import dkv.scorers.worker.ScorerWorker;
import dkv.scorers.worker.ServedModel;
import dkv.scorers.worker.WorkItemScorer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 7, end to end on one broker given only its bootstrap address: the dkv topics are created, the
 * producer API publishes a plan of {@value #SAMPLES} fixture samples × {@value #CONDITIONS} conditions, one
 * in-process scorer worker (fixture llama model) and the aggregator service run against it; a read_committed
 * reader then sees every (sample, condition) exactly once and the last snapshot on {@code dkv.stats} is final
 * with n = {@value #SAMPLES} for every non-baseline condition. Subclasses say which broker: embedded or a
 * container.
 */
abstract class EndToEndContract {
    private static final String MODEL_ID = "fixture-llama";
    private static final int SAMPLES = 8;
    private static final int CONDITIONS = 3;
    private static final Duration PATIENCE = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    protected abstract String bootstrapServers();

    @Test
    @Timeout(120)
    void everyPlannedScoreIsCommittedOnceAndTheStatsAreFinal() throws Exception {
        String bootstrap = bootstrapServers();
        KafkaSettings settings = KafkaSettings.of(bootstrap);
        // the embedded broker is shared by the whole test JVM: this run's experiment and group are its own
        String experiment = "e2e-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        String group = experiment + "-scorers";
        try (Admin admin = Admin.create(settings.admin("e2e-admin"))) {
            TopicLayout.ensure(admin, TopicLayout.dkv(Topics.DEFAULT_WORK_PARTITIONS, (short) 1));
            startGroupAtEndOfWork(admin, group);
        }

        Plan plan = Plan.load(writePlan(experiment));
        WorkPlan work = WorkPlan.prepare(plan, Dataset.of(writeSamples(experiment), Optional.empty(), ReaderOptions.defaults()),
                GeneratorResources.none(), Optional.of(ModelRef.newBuilder().setId(MODEL_ID).setRevision(null).build()),
                Optional.empty(), System::currentTimeMillis);
        assertEquals(SAMPLES, work.planned());
        assertEquals(CONDITIONS, plan.conditions().size());
        WorkPublisher publisher = new WorkPublisher(settings, Topics.WORK, Topics.DEFAULT_WORK_PARTITIONS, 64);
        assertEquals(SAMPLES, publisher.publish(work, new Progress(work.planned(), Duration.ofHours(1), System::nanoTime, line -> {})));

        StringWriter log = new StringWriter();
        StatsSnapshot stats;
        try (LoadedModel lm = loadFixtureModel(log);
             AggregatorService aggregator = AggregatorService.start(settings, new PublishCadence(50_000, 200), 0.05, new LiveSnapshots());
             ScorerWorker worker = startScorer(settings, lm, group)) {
            stats = awaitFinalSnapshot(bootstrap, experiment, worker, log);
        }

        List<ScoreRecord> scores = committedScores(bootstrap, experiment);
        List<String> foreign = TopicReader.readAll(bootstrap, Topics.SCORES, TopicReader.Isolation.READ_UNCOMMITTED, new StringDeserializer(),
                        AvroSerde.of(ScoreRecord.class)).stream()
                .map(ConsumerRecord::value).filter(r -> r.getWorker().equals(workerId(group)) && !r.getExperimentId().equals(experiment))
                .map(r -> r.getExperimentId() + "/" + r.getSampleId()).toList();
        assertEquals(List.of(), foreign, "the scorer took only this run's work");
        Map<String, Long> perKey = scores.stream().collect(Collectors.groupingBy(
                r -> Topics.scoreKey(r.getExperimentId(), r.getSampleId(), r.getCondition()), TreeMap::new, Collectors.counting()));
        assertEquals(SAMPLES * CONDITIONS, perKey.size(), "every (sample, condition) scored: " + perKey.keySet());
        perKey.forEach((key, n) -> assertEquals(1L, n, key + " seen " + n + " times by a read_committed reader"));
        for (ScoreRecord r : scores) {
            assertEquals(MODEL_ID, r.getModel().getId());
            assertEquals(plan.hash(), r.getPlanHash());
            assertTrue(Double.isFinite(r.getNllMean()) && r.getNllMean() > 0, "nll of " + r.getSampleId() + "/" + r.getCondition());
        }

        assertTrue(stats.getFinal$(), "final: " + stats);
        assertEquals(SAMPLES, stats.getSamples());
        assertEquals(SAMPLES, stats.getPlannedSamples());
        assertEquals(CONDITIONS, stats.getPlannedConditions());
        assertEquals(SAMPLES * CONDITIONS, stats.getRecords());
        assertEquals(plan.baseline(), stats.getBaseline());
        Map<String, PairedStats> byName = stats.getConditions().stream().collect(Collectors.toMap(PairedStats::getName, Function.identity()));
        for (PlanCondition c : plan.conditions()) {
            if (!c.name().equals(plan.baseline())) {
                PairedStats paired = byName.get(c.name());
                assertNotNull(paired, "no statistics for " + c.name() + " in " + byName.keySet());
                assertEquals(SAMPLES, paired.getN(), "aggregator n of " + c.name());
            }
        }
    }

    /**
     * Commits the group's offsets at the current end of {@code dkv.work}, so that on a shared broker this
     * run's scorer takes only the work this run publishes (the worker's reset policy would be "earliest").
     */
    private static void startGroupAtEndOfWork(Admin admin, String group) throws Exception {
        int partitions = admin.describeTopics(List.of(Topics.WORK)).allTopicNames().get().get(Topics.WORK).partitions().size();
        Map<TopicPartition, OffsetSpec> latest = new TreeMap<>(Comparator.comparingInt(TopicPartition::partition));
        for (int p = 0; p < partitions; p++) {
            latest.put(new TopicPartition(Topics.WORK, p), OffsetSpec.latest());
        }
        Map<TopicPartition, OffsetAndMetadata> start = admin.listOffsets(latest).all().get().entrySet().stream()
                .collect(Collectors.toMap(Map.Entry::getKey, e -> new OffsetAndMetadata(e.getValue().offset())));
        admin.alterConsumerGroupOffsets(group, start).all().get();
    }

    /** The eos plan's three conditions (bare, oracle trunc with RoPE correction, suffix) under this run's id. */
    private Path writePlan(String experiment) throws Exception {
        String json = Files.readString(Path.of("src", "test", "resources", "score", "eos-plan.json"), StandardCharsets.UTF_8)
                .replace("\"experiment_id\": \"eos\"", "\"experiment_id\": \"" + experiment + "\"");
        assertTrue(json.contains(experiment), "eos-plan.json no longer names its experiment as expected");
        return Files.writeString(dir.resolve("plan.json"), json, StandardCharsets.UTF_8);
    }

    /** Samples built from the fixture's texts (words its tiny tokenizer knows), each id distinct. */
    private Path writeSamples(String experiment) throws Exception {
        List<String> base = Files.readAllLines(ScoreCommandTest.SAMPLES, StandardCharsets.UTF_8);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < SAMPLES; i++) {
            String line = base.get(i % base.size()).replaceFirst("\"id\": \"s\\d\"", "\"id\": \"" + experiment + "-s" + i + "\"");
            assertTrue(line.contains(experiment + "-s" + i), "fixture sample ids no longer look like \"s<digit>\"");
            lines.add(line);
        }
        return Files.write(dir.resolve("samples.jsonl"), lines, StandardCharsets.UTF_8);
    }

    private static LoadedModel loadFixtureModel(StringWriter log) {
        ScorerModelOptions torch = new ScorerModelOptions();
        torch.modelDir = ScoreCommandTest.FIXTURE_MODEL.toAbsolutePath().normalize();
        torch.threads = 1; // the cores are shared
        return torch.load(new PrintWriter(log, true), "e2e");
    }

    private static ScorerWorker startScorer(KafkaSettings settings, LoadedModel lm, String group) {
        String id = workerId(group);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        WorkItemScorer scorer = new WorkItemScorer(ServedModel.of(lm, MODEL_ID), ScoreOptions.defaults().withWorker(id));
        ScoreBatchFunction scoring = new ScoreBatchFunction(scorer, new ScorerMetrics(registry, id), Topics.SCORES, new Object());
        ScorerWorker.Options options = new ScorerWorker.Options(group, id, 4, Topics.DEFAULT_WORK_PARTITIONS, (short) 1);
        return ScorerWorker.start(settings, options, StagedCalls.Settings.defaults(), scoring, registry);
    }

    private static String workerId(String group) {
        return group + "-0";
    }

    /** Polls {@code dkv.stats} until this experiment's latest snapshot is final; fails early if the worker dies. */
    private static StatsSnapshot awaitFinalSnapshot(String bootstrap, String experiment, ScorerWorker worker, StringWriter log)
            throws InterruptedException {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        StatsSnapshot latest = null;
        while (System.nanoTime() < deadline) {
            latest = latestSnapshot(bootstrap, experiment);
            if (latest != null && latest.getFinal$()) {
                return latest;
            }
            if (worker.failure().isPresent()) {
                fail("scorer " + worker.workerId() + " failed: " + worker.failure().get() + "\n" + log);
            }
            Thread.sleep(200);
        }
        fail("no final snapshot of " + experiment + " on " + Topics.STATS + " after " + PATIENCE + "; latest: " + latest
                + "; committed scores: " + committedScores(bootstrap, experiment).size() + "\n" + log);
        return latest;
    }

    private static StatsSnapshot latestSnapshot(String bootstrap, String experiment) {
        List<ConsumerRecord<String, StatsSnapshot>> records = TopicReader.readAll(bootstrap, Topics.STATS,
                TopicReader.Isolation.READ_COMMITTED, new StringDeserializer(), AvroSerde.of(StatsSnapshot.class));
        StatsSnapshot latest = null;
        for (ConsumerRecord<String, StatsSnapshot> r : records) {
            if (experiment.equals(r.key())) {
                latest = r.value();
            }
        }
        return latest;
    }

    private static List<ScoreRecord> committedScores(String bootstrap, String experiment) {
        return TopicReader.readAll(bootstrap, Topics.SCORES, TopicReader.Isolation.READ_COMMITTED, new StringDeserializer(),
                        AvroSerde.of(ScoreRecord.class)).stream()
                .map(ConsumerRecord::value).filter(r -> r.getExperimentId().equals(experiment)).toList();
    }
}
