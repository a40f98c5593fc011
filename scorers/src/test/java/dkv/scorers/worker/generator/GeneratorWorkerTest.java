package dkv.scorers.worker.generator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.DeadLetter;
import dkv.avro.GenerationSettings;
import dkv.avro.ModelRef;
import dkv.avro.NamedText;
import dkv.avro.Surrogate;
import dkv.avro.SurrogateRequest;
import dkv.platform.pipeline.StagedCalls;
import dkv.platform.testing.SharedKafka;
import dkv.platform.testing.TopicReader;
import dkv.platform.testing.TopicReader.Isolation;
import dkv.schemas.AvroSerde;
import dkv.schemas.Topics;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The generator service on the embedded broker: dkv.docs → dkv.surrogates exactly once, poison to dkv.dead. */
class GeneratorWorkerTest {
    private static final String GENERATOR = "tiny-instruct";
    private static final List<String> TEMPLATES = List.of("target_question", "keyword_query", "messy_realworld");
    private static final AvroSerde<SurrogateRequest> REQUESTS = AvroSerde.of(SurrogateRequest.class);
    private static final AvroSerde<Surrogate> SURROGATES = AvroSerde.of(Surrogate.class);

    /**
     * Run 1 is killed (halted: no commit, no abort) while it generates its third batch, once the two before it are
     * committed (the pipeline commits a call after its score stage, on another thread); run 2 with the same worker id
     * finishes. Every (sample, template) is committed exactly once with the text the writer gave, batches committed
     * before the kill are not generated again, and the killed batch is.
     */
    @Test
    void aGeneratorKilledMidBatchAndRestartedWritesEverySurrogateExactlyOnce() throws Exception {
        String experiment = SharedKafka.uniqueName("gen-eos");
        int samples = 24;
        List<SurrogateRequest> requests = new ArrayList<>();
        for (int i = 0; i < samples; i++) {
            requests.add(request(experiment, "s" + i, "Copper conducts electricity and heat; copper wire number " + i,
                    "does copper conduct electricity", TEMPLATES, List.of()));
        }
        send(requests.stream().map(r -> encoded(r)).toList());
        GeneratorWorker.Options options = new GeneratorWorker.Options(SharedKafka.uniqueName("gen-group"),
                SharedKafka.uniqueName("generator"), 2, Topics.DEFAULT_WORK_PARTITIONS, (short) 1);

        Map<String, AtomicInteger> writes = new ConcurrentHashMap<>();
        AtomicInteger calls = new AtomicInteger();
        AtomicReference<GeneratorWorker> first = new AtomicReference<>();
        Set<String> inKilledBatch = ConcurrentHashMap.newKeySet();
        Set<String> beforeTheKill = ConcurrentHashMap.newKeySet();
        SurrogateWriter killing = writer(prompts -> {
            int call = calls.incrementAndGet();
            if (call < 3) {
                prompts.forEach(p -> beforeTheKill.add(p.sampleId() + "/" + p.template()));
            } else if (call == 3) {
                // calls 1 and 2 committed first, so that the kill falls after them as it would in a one-call-at-a-time loop
                surrogates(experiment, r -> r.stream().map(s -> s.getSampleId() + "/" + s.getName()).toList().containsAll(beforeTheKill));
                prompts.forEach(p -> inKilledBatch.add(p.sampleId() + "/" + p.template()));
                first.get().halt(); // from the score thread: returns at once, nothing of this batch is committed
            }
        }, writes);
        first.set(GeneratorWorker.start(SharedKafka.settings(), options, StagedCalls.Settings.defaults(),
                function(killing, options.workerId()), new SimpleMeterRegistry()));
        assertTrue(first.get().awaitTermination(Duration.ofSeconds(60)), "run 1 was killed");
        assertTrue(first.get().failure().isEmpty(), () -> "run 1 stopped by the kill only: " + first.get().failure().get());
        assertEquals(3, calls.get());
        assertTrue(inKilledBatch.size() > 0);

        GeneratorWorker second = GeneratorWorker.start(SharedKafka.settings(), options, StagedCalls.Settings.defaults(),
                function(writer(prompts -> {}, writes), options.workerId()), new SimpleMeterRegistry());
        List<Surrogate> committed;
        try {
            committed = surrogates(experiment, r -> r.size() >= samples * TEMPLATES.size());
        } finally {
            second.close();
        }
        assertTrue(second.failure().isEmpty(), () -> "run 2 failed: " + second.failure().orElseThrow());

        Map<String, Long> perKey = committed.stream().collect(Collectors.groupingBy(
                s -> Topics.surrogateKey(s.getExperimentId(), s.getSampleId(), s.getName()), Collectors.counting()));
        assertEquals(samples * TEMPLATES.size(), perKey.size(), "every template of every document answered");
        assertEquals(Set.of(1L), Set.copyOf(perKey.values()), "no surrogate twice");
        for (Surrogate s : committed) {
            assertNotNull(s.getText(), s.toString());
            assertNull(s.getError());
            assertEquals(requests.getFirst().getRequestHash().replace("s0", s.getSampleId()), s.getRequestHash());
            assertEquals(GENERATOR, s.getGenerator().getId());
            assertEquals(LexicalEmbedder.ID, s.getEmbedder());
            assertNotNull(s.getQuerySimilarity());
            assertTrue(s.getQuerySimilarity() >= 0 && s.getQuerySimilarity() <= 1 + 1e-6, s.toString());
            String key = s.getSampleId() + "/" + s.getName();
            // committed before the kill: written once; the killed batch: once by each run
            assertEquals(inKilledBatch.contains(key) ? 2 : 1, writes.get(key).get(), key);
        }
    }

    /**
     * Requests that cannot be answered go to dkv.dead with their reason, in the same transactions as the good ones;
     * what fails for one surrogate only is that surrogate's reason (empty generation, a refused prompt, no embedder).
     */
    @Test
    void poisonDocumentsGoToTheDeadLettersAndPerSurrogateFailuresAreReasons() throws Exception {
        String experiment = SharedKafka.uniqueName("gen-poison");
        SurrogateRequest good = request(experiment, "good", "Rust is iron oxide formed by oxidation.", "what is rust",
                List.of("target_question", "too_long"), List.of(new NamedText("static_definitional", "What is rust?")));
        SurrogateRequest empty = request(experiment, "empty", "a an of", "q", List.of("target_question"), List.of());
        SurrogateRequest nothing = request(experiment, "nothing", "doc", "q", List.of(), List.of());
        SurrogateRequest otherModel = SurrogateRequest.newBuilder(request(experiment, "other", "doc", "q", TEMPLATES, List.of()))
                .setGenerator(new ModelRef("mistral-7b-instruct", null)).build();
        SurrogateRequest twice = request(experiment, "twice", "doc", "q", List.of("a"), List.of(new NamedText("a", "text")));
        List<ProducerRecord<String, byte[]>> records = new ArrayList<>();
        records.add(new ProducerRecord<>(Topics.DOCS, experiment + "/garbage", "not avro".getBytes(StandardCharsets.UTF_8)));
        for (SurrogateRequest r : List.of(good, empty, nothing, otherModel, twice)) records.add(encoded(r));
        send(records);

        GeneratorWorker.Options options = new GeneratorWorker.Options(SharedKafka.uniqueName("gen-group"),
                SharedKafka.uniqueName("generator"), 100, Topics.DEFAULT_WORK_PARTITIONS, (short) 1);
        SurrogateWriter refusingOne = standIn(prompts -> {}, (prompts, out) -> {
            for (int i = 0; i < prompts.size(); i++) {
                if (prompts.get(i).template().equals("too_long")) {
                    out.set(i, SurrogateWriter.Written.failed("prompt of 9000 tokens is longer than the model's context (2048)"));
                }
            }
        });
        String workerId = options.workerId();
        GeneratorWorker worker = GeneratorWorker.start(SharedKafka.settings(), options, StagedCalls.Settings.defaults(),
                new GenerateBatchFunction(Optional.of(refusingOne), Optional.empty(), workerId, new Object(), () -> 7L),
                new SimpleMeterRegistry());
        List<Surrogate> answers;
        List<DeadLetter> dead;
        try {
            answers = surrogates(experiment, r -> r.size() >= 4);
            dead = deadLetters(workerId, 4);
        } finally {
            worker.close();
        }
        Map<String, Surrogate> byKey = answers.stream().collect(Collectors.toMap(s -> s.getSampleId() + "/" + s.getName(), s -> s));
        assertEquals(Set.of("good/target_question", "good/too_long", "good/static_definitional", "empty/target_question"), byKey.keySet());
        assertNotNull(byKey.get("good/target_question").getText());
        assertNull(byKey.get("good/too_long").getText());
        assertTrue(byKey.get("good/too_long").getError().contains("longer than the model's context"));
        assertEquals("What is rust?", byKey.get("good/static_definitional").getText());
        assertTrue(byKey.get("empty/target_question").getError().startsWith("empty generation"));
        for (Surrogate s : answers) {
            assertNull(s.getQuerySimilarity(), "no embedder on this worker");
            assertTrue(s.getSimilarityError().contains("no embedding model") || s.getSimilarityError().equals("no text to embed")
                    || s.getText() != null, s.toString());
            assertEquals(7L, s.getProducedAt());
        }
        assertTrue(byKey.get("good/target_question").getSimilarityError().contains("no embedding model on worker " + workerId));

        Map<String, String> reasons = dead.stream().collect(Collectors.toMap(
                d -> StandardCharsets.UTF_8.decode(d.getKey()).toString(), DeadLetter::getMessage));
        assertEquals(Set.of(experiment + "/garbage", experiment + "/nothing", experiment + "/other", experiment + "/twice"),
                reasons.keySet());
        assertTrue(reasons.get(experiment + "/garbage").contains("cannot decode SurrogateRequest"));
        assertTrue(reasons.get(experiment + "/nothing").contains("asks for nothing"));
        assertTrue(reasons.get(experiment + "/other").contains("wants generator 'mistral-7b-instruct' but this worker serves '"
                + GENERATOR + "'"));
        assertTrue(reasons.get(experiment + "/twice").contains("name 'a' appears twice"));
    }

    /**
     * The real engine behind the worker: a tiny llama with a chat template answers every template of every document,
     * greedy and seeded, with the texts (post-processed) and token counts the engine gives for the same prompts and seeds
     * outside the stream; a document too long for the model's context is each of its surrogates' reason.
     */
    @Test
    void theGenerationEngineAnswersDocumentsThroughTheModelsChatTemplate(@TempDir Path dir) throws Exception {
        String experiment = SharedKafka.uniqueName("gen-engine");
        GenerationSettings sampled = GenerationSettings.newBuilder().setMaxNewTokens(8).setTemperature(0.7).setTopP(0.95).build();
        GenerationSettings greedy = GenerationSettings.newBuilder().setMaxNewTokens(8).build();
        List<SurrogateRequest> requests = List.of(
                withSettings(request(experiment, "rust", "Rust is iron oxide formed by oxidation.", "what is rust", TEMPLATES, List.of()), greedy),
                withSettings(request(experiment, "copper", "Copper conducts electricity and heat.", "does copper conduct", TEMPLATES,
                        List.of()), sampled),
                withSettings(request(experiment, "long", "iron ".repeat(300), "q", List.of("target_question"), List.of()), greedy));
        send(requests.stream().map(r -> encoded(r)).toList());
        GeneratorWorker.Options options = new GeneratorWorker.Options(SharedKafka.uniqueName("gen-group"),
                SharedKafka.uniqueName("generator"), 100, Topics.DEFAULT_WORK_PARTITIONS, (short) 1);
        Path model = ChatFixture.llamaChat(dir);
        try (SurrogateWriter engine = SurrogateWriters.engine(model, GENERATOR, Device.cpu(), DType.FLOAT32, 4)) {
            GeneratorWorker worker = GeneratorWorker.start(SharedKafka.settings(), options, StagedCalls.Settings.defaults(),
                    function(engine, options.workerId()), new SimpleMeterRegistry());
            List<Surrogate> committed;
            try {
                committed = surrogates(experiment, r -> r.size() >= 2 * TEMPLATES.size() + 1);
            } finally {
                worker.close();
            }
            assertTrue(worker.failure().isEmpty(), () -> "worker failed: " + worker.failure().orElseThrow());
            assertEquals(2 * TEMPLATES.size() + 1, committed.size(), "one surrogate per template and document");
            for (Surrogate s : committed) {
                SurrogateRequest r = requests.stream().filter(q -> q.getSampleId().equals(s.getSampleId())).findFirst().orElseThrow();
                NamedText template = r.getTemplates().stream().filter(t -> t.getName().equals(s.getName())).findFirst().orElseThrow();
                SurrogateWriter.Written alone = engine.write(List.of(new SurrogateWriter.Prompt(r.getSampleId(), template.getName(),
                        r.getDocument(), GenerateBatchFunction.render(template.getText(), r.getDocument()), r.getSettings(),
                        GenerateBatchFunction.promptSeed(r.getSettings().getSeed(), experiment, r.getSampleId(), template.getName()))))
                        .getFirst();
                String key = s.getSampleId() + "/" + s.getName();
                if (s.getSampleId().equals("long")) {
                    assertNull(s.getText(), key);
                    assertTrue(s.getError().contains("leaves no room in the model's context of 256"), s.getError());
                    assertEquals(alone.failure(), s.getError());
                    continue;
                }
                String expected = PostProcessing.apply(alone.text(), r.getSettings());
                if (expected.isEmpty()) {
                    assertTrue(s.getError().startsWith("empty generation"), key + ": " + s);
                } else {
                    assertEquals(expected, s.getText(), key);
                    assertEquals(alone.newTokens(), s.getTokens(), key);
                    assertNotNull(s.getQuerySimilarity(), key);
                }
            }
            assertTrue(committed.stream().filter(s -> s.getText() != null).count() >= TEMPLATES.size(),
                    "most of the tiny model's generations have a first line: " + committed);
        }
    }

    private static SurrogateRequest withSettings(SurrogateRequest r, GenerationSettings settings) {
        return SurrogateRequest.newBuilder(r).setSettings(settings).build();
    }

    static SurrogateRequest request(String experiment, String sample, String document, String query, List<String> templates,
            List<NamedText> texts) {
        return SurrogateRequest.newBuilder()
                .setExperimentId(experiment).setSampleId(sample).setPlanHash("plan").setRequestHash("req-" + sample)
                .setDocument(document).setQuery(query)
                .setGenerator(templates.isEmpty() ? null : new ModelRef(GENERATOR, null))
                .setTemplates(templates.stream().map(t -> new NamedText(t, "Write a " + t + " for this text.\n\n{document}")).toList())
                .setTexts(texts)
                .setSettings(GenerationSettings.newBuilder().build())
                .build();
    }

    private static GenerateBatchFunction function(SurrogateWriter writer, String workerId) {
        return new GenerateBatchFunction(Optional.of(writer), Optional.of(new LexicalEmbedder()), workerId, new Object(),
                System::currentTimeMillis);
    }

    /** The stand-in, counting writes per sample/template and running {@code before} first. */
    private static SurrogateWriter writer(Consumer<List<SurrogateWriter.Prompt>> before, Map<String, AtomicInteger> writes) {
        return standIn(prompts -> {
            before.accept(prompts);
            prompts.forEach(p -> writes.computeIfAbsent(p.sampleId() + "/" + p.template(), k -> new AtomicInteger()).incrementAndGet());
        }, (prompts, out) -> {});
    }

    /** The extractive stand-in for {@link #GENERATOR}, seeing each call's prompts first and adjusting its answers after. */
    private static SurrogateWriter standIn(Consumer<List<SurrogateWriter.Prompt>> before,
            BiConsumer<List<SurrogateWriter.Prompt>, List<SurrogateWriter.Written>> adjust) {
        ExtractiveStandIn inner = new ExtractiveStandIn(GENERATOR);
        return new SurrogateWriter() {
            @Override
            public String modelId() {
                return GENERATOR;
            }

            @Override
            public String describe() {
                return inner.describe();
            }

            @Override
            public List<Written> write(List<Prompt> prompts) {
                before.accept(prompts);
                List<Written> out = new ArrayList<>(inner.write(prompts));
                adjust.accept(prompts, out);
                return out;
            }
        };
    }

    private static ProducerRecord<String, byte[]> encoded(SurrogateRequest r) {
        return new ProducerRecord<>(Topics.DOCS, Topics.workKey(r.getExperimentId(), r.getSampleId()), REQUESTS.encode(r));
    }

    private static void send(List<ProducerRecord<String, byte[]>> records) {
        try (var producer = new KafkaProducer<>(SharedKafka.settings().producer("test-docs", Map.of()), new StringSerializer(),
                new ByteArraySerializer())) {
            records.forEach(producer::send);
            producer.flush();
        }
    }

    private static List<Surrogate> surrogates(String experiment, Predicate<List<Surrogate>> done) {
        Predicate<List<ConsumerRecord<String, Surrogate>>> enough = rs -> done.test(ofExperiment(rs, experiment));
        var records = TopicReader.readUntil(SharedKafka.bootstrapServers(), Topics.SURROGATES, Isolation.READ_COMMITTED,
                new StringDeserializer(), SURROGATES, enough, Duration.ofSeconds(60));
        return ofExperiment(records, experiment);
    }

    private static List<Surrogate> ofExperiment(List<ConsumerRecord<String, Surrogate>> records, String experiment) {
        return records.stream().map(ConsumerRecord::value).filter(s -> s.getExperimentId().equals(experiment)).toList();
    }

    private static List<DeadLetter> deadLetters(String worker, int expected) {
        AvroSerde<DeadLetter> serde = AvroSerde.of(DeadLetter.class);
        var records = TopicReader.readUntil(SharedKafka.bootstrapServers(), Topics.DEAD, Isolation.READ_COMMITTED,
                new StringDeserializer(), serde, rs -> rs.stream().filter(r -> r.value().getWorker().equals(worker)).count() >= expected,
                Duration.ofSeconds(60));
        return records.stream().map(ConsumerRecord::value).filter(d -> d.getWorker().equals(worker)).toList();
    }
}
