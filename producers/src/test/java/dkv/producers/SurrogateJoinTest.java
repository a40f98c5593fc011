package dkv.producers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.ConditionSpec;
import dkv.avro.DeadLetter;
import dkv.avro.ModelRef;
import dkv.avro.NamedText;
import dkv.avro.Surrogate;
import dkv.avro.SurrogateRequest;
import dkv.avro.SurrogateSource;
import dkv.avro.WorkItem;
import dkv.platform.testing.SharedKafka;
import dkv.platform.testing.TopicReader;
import dkv.platform.testing.TopicReader.Isolation;
import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.DatasetFormat;
import dkv.producers.dataset.ReaderOptions;
import dkv.producers.plan.Plan;
import dkv.producers.surrogate.GeneratorResources;
import dkv.schemas.AvroSerde;
import dkv.schemas.Topics;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The producer's streaming join on the embedded broker, against a scripted generator (the real one lives in scorers,
 * which producers do not import): documents out on dkv.docs, answers in from dkv.surrogates, WorkItems out as soon as a
 * sample is answered, and a restart that neither loses nor duplicates work.
 */
class SurrogateJoinTest {
    private static final AvroSerde<SurrogateRequest> REQUESTS = AvroSerde.of(SurrogateRequest.class);
    private static final AvroSerde<Surrogate> ANSWERS = AvroSerde.of(Surrogate.class);
    private static final AvroSerde<WorkItem> ITEMS = AvroSerde.of(WorkItem.class);
    /** Query similarities the scripted generator gives: template b is the most similar, static_y more than static_x. */
    private static final Map<String, Double> SIMILARITY = Map.of("a", 0.25, "b", 0.75, "static_x", 0.125, "static_y", 0.5);

    @TempDir
    Path dir;

    @Test
    void workItemsLeaveAsTheirSurrogatesArriveAndARestartNeitherLosesNorDuplicates() throws Exception {
        String experiment = SharedKafka.uniqueName("join");
        String workTopic = SharedKafka.newTopic("join-work", 3);
        WorkPlan work = workPlan(experiment, 6);
        List<String> ids = work.samples().map(s -> s.getId()).collectList().block();
        Set<String> answerable = ConcurrentHashMap.newKeySet();
        answerable.addAll(ids.subList(0, 3));
        try (ScriptedGenerator generator = new ScriptedGenerator(experiment, answerable::contains)) {
            // run 1: answers come for three samples only; with two samples pending at most, it requests five and gives up
            SurrogateJoin run1 = new SurrogateJoin(SharedKafka.settings(), workTopic, 2, Duration.ofSeconds(3), line -> {}, () -> 1L);
            CompletableFuture<SurrogateJoin.Result> first = CompletableFuture.supplyAsync(() -> run1.publish(work, progress(work)));
            List<WorkItem> streamed = items(workTopic, experiment, r -> r.size() >= 3);
            assertEquals(3, streamed.size(), "the answered samples' WorkItems were published while run 1 still waited");
            assertTrue(!first.isDone() || first.isCompletedExceptionally());
            var failure = assertThrows(Exception.class, () -> first.get(60, TimeUnit.SECONDS));
            assertTrue(failure.getCause().getMessage().contains("is a dkv generator running with model id 'tiny-instruct'"),
                    failure.getCause().getMessage());
            assertEquals(5, requests(experiment).size(), "two pending at most: the sixth document was not requested yet");

            // run 2: the generator answers everything; the restarted producer publishes the rest once
            answerable.addAll(ids);
            SurrogateJoin run2 = new SurrogateJoin(SharedKafka.settings(), workTopic, 2, Duration.ofSeconds(30), line -> {}, () -> 2L);
            SurrogateJoin.Result result = run2.publish(work, progress(work));
            assertEquals(new SurrogateJoin.Result(3, 3, 1, Map.of()), result);
        }
        List<WorkItem> items = items(workTopic, experiment, r -> r.size() >= 6);
        Map<String, Long> perSample = items.stream().collect(Collectors.groupingBy(i -> i.getSample().getId(), Collectors.counting()));
        assertEquals(Set.copyOf(ids), perSample.keySet(), "every sample has a WorkItem");
        assertEquals(Set.of(1L), Set.copyOf(perSample.values()), "none twice");
        Map<String, Long> perRequest = requests(experiment).stream().collect(Collectors.groupingBy(SurrogateRequest::getSampleId,
                Collectors.counting()));
        assertEquals(Set.of(1L), Set.copyOf(perRequest.values()), "no document asked for twice: " + perRequest);

        for (WorkItem item : items) {
            Map<String, ConditionSpec> c = item.getConditions().stream().collect(Collectors.toMap(ConditionSpec::getName, x -> x));
            String first = item.getSample().getPassage().split(" ")[0];
            assertEquals("a about " + first, c.get("gen_a").getSurrogate());
            assertEquals(0.25, c.get("gen_a").getQuerySimilarity());
            assertEquals("a", c.get("gen_a").getSurrogateTemplate());
            assertEquals("tiny-instruct", c.get("gen_a").getSurrogateGenerator());
            assertEquals("b about " + first + " b about " + first, c.get("gen_b_x2").getSurrogate());
            assertEquals("b about " + first, c.get("gen_routed").getSurrogate(), "routed: the most similar template");
            assertEquals("b", c.get("gen_routed").getSurrogateTemplate());
            assertEquals(0.75, c.get("gen_routed").getQuerySimilarity());
            assertEquals("What is this about?", c.get("static_x").getSurrogate());
            assertEquals(0.125, c.get("static_x").getQuerySimilarity(), "a given text's similarity from the workers");
            assertEquals(0.5, c.get("static_y").getQuerySimilarity());
            assertNull(c.get("bare").getQuerySimilarity());
            assertNull(c.get("shuffled_static").getQuerySimilarity(), "not a routed member");
            assertEquals(List.of("generated_routed", "static_routed", "pool_best_of"),
                    item.getMeta().getDerived().stream().map(d -> d.getName()).toList());
        }
        SurrogateRequest request = requests(experiment).getFirst();
        assertEquals(List.of("a", "b"), request.getTemplates().stream().map(NamedText::getName).toList());
        assertEquals(List.of("static_x", "static_y"), request.getTexts().stream().map(NamedText::getName).toList());
        assertEquals(0.3, request.getSettings().getTemperature());
        assertEquals(7, request.getSettings().getMaxNewTokens());
        assertEquals("mini-embedder", request.getEmbedder());
    }

    @Test
    void aFailedTemplateOrADeadLetteredRequestFailsItsSampleWithTheReasonAndTheRestGoOn() throws Exception {
        String experiment = SharedKafka.uniqueName("join-fail");
        String workTopic = SharedKafka.newTopic("join-work", 3);
        WorkPlan work = workPlan(experiment, 4);
        List<String> ids = work.samples().map(s -> s.getId()).collectList().block();
        String empty = ids.get(1);
        String poisoned = ids.get(2);
        try (ScriptedGenerator generator = new ScriptedGenerator(experiment, id -> true)) {
            generator.emptyFor.add(empty);
            generator.deadFor.add(poisoned);
            List<String> lines = new ArrayList<>();
            SurrogateJoin.Result result = new SurrogateJoin(SharedKafka.settings(), workTopic, 8, Duration.ofSeconds(30),
                    lines::add, () -> 3L).publish(work, progress(work));
            assertEquals(2, result.published());
            assertEquals(Set.of(empty, poisoned), result.failures().keySet());
            assertTrue(result.failures().get(empty).contains("template 'b' failed: empty generation"), result.failures().toString());
            assertTrue(result.failures().get(poisoned).contains("request dead-lettered by scripted: no generator for you"),
                    result.failures().toString());
            assertEquals(2, lines.size(), "one line per failed sample: " + lines);
        }
        assertEquals(2, items(workTopic, experiment, r -> r.size() >= 2).size());
    }

    private WorkPlan workPlan(String experiment, int samples) throws IOException {
        Path data = dir.resolve("samples.jsonl");
        List<String> lines = new ArrayList<>();
        String[] topics = {"copper", "rust", "tides", "volcano", "glacier", "honey", "comet", "basalt"};
        for (int i = 0; i < samples; i++) {
            lines.add("{\"id\": \"s" + i + "\", \"query\": \"what about " + topics[i] + "\", \"passage\": \"" + topics[i]
                    + " is a thing people ask about.\", \"answer\": \"" + topics[i] + "\"}");
        }
        Files.write(data, lines);
        Plan plan = Plan.parse("""
                {"experiment_id": "%s", "model": {"id": "tiny"},
                 "generation": {"model": "tiny-instruct", "templates": {"a": "Ask about {document}", "b": "Keywords for:"},
                                "max_new_tokens": 7, "temperature": 0.3, "embedder": "mini-embedder"},
                 "conditions": [{"name": "bare"},
                   {"name": "gen_a", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "generated", "template": "a"},
                   {"name": "gen_b_x2", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "generated", "template": "b", "repeat": 2},
                   {"name": "gen_routed", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "generated", "template": "routed"},
                   {"name": "static_x", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "static", "surrogate": "What is this about?"},
                   {"name": "static_y", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "static", "surrogate": "How does it work?"},
                   {"name": "shuffled_static", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "shuffled", "of": "static_x"}],
                 "derived": [{"name": "generated_routed", "kind": "routed", "members": ["gen_a", "gen_b_x2"]},
                             {"name": "static_routed", "kind": "routed", "members": ["static_x", "static_y"]},
                             {"name": "pool_best_of", "kind": "best_of", "members": ["bare", "gen_a", "static_x"]}]}
                """.formatted(experiment), "test-plan", experiment, dir);
        return WorkPlan.prepare(plan, new Dataset(data, DatasetFormat.GENERIC_JSONL, ReaderOptions.defaults()),
                GeneratorResources.none(), Optional.empty(), Optional.empty(), () -> 0L);
    }

    private static Progress progress(WorkPlan work) {
        return new Progress(work.plannedItems(), Duration.ofHours(1), System::nanoTime, line -> {});
    }

    private static List<WorkItem> items(String topic, String experiment, Predicate<List<WorkItem>> done) {
        var records = TopicReader.readUntil(SharedKafka.bootstrapServers(), topic, Isolation.READ_COMMITTED, new StringDeserializer(),
                ITEMS, rs -> done.test(ofExperiment(rs, experiment)), Duration.ofSeconds(30));
        return ofExperiment(records, experiment);
    }

    private static List<WorkItem> ofExperiment(List<ConsumerRecord<String, WorkItem>> records, String experiment) {
        return records.stream().map(ConsumerRecord::value).filter(i -> i.getExperimentId().equals(experiment)).toList();
    }

    private static List<SurrogateRequest> requests(String experiment) {
        return TopicReader.readAll(SharedKafka.bootstrapServers(), Topics.DOCS, Isolation.READ_COMMITTED, new StringDeserializer(),
                        REQUESTS).stream().map(ConsumerRecord::value).filter(r -> r.getExperimentId().equals(experiment)).toList();
    }

    /**
     * Answers this experiment's requests on dkv.docs as the generator workers would, for the samples {@code answerable}
     * accepts (each request once): template t → "t about FIRSTWORD", given texts as they are, similarities from
     * {@link #SIMILARITY}; an empty generation for {@code emptyFor}, a dead letter for {@code deadFor}.
     */
    private static final class ScriptedGenerator implements AutoCloseable {
        final Set<String> emptyFor = ConcurrentHashMap.newKeySet();
        final Set<String> deadFor = ConcurrentHashMap.newKeySet();
        private final Thread thread;
        private volatile boolean stop;

        ScriptedGenerator(String experiment, Predicate<String> answerable) {
            thread = Thread.ofPlatform().daemon().start(() -> run(experiment, answerable));
        }

        private void run(String experiment, Predicate<String> answerable) {
            Map<String, Object> config = Map.of("isolation.level", "read_committed");
            try (var consumer = new KafkaConsumer<>(SharedKafka.settings().consumer(null, "scripted", config), new StringDeserializer(),
                    new ByteArrayDeserializer());
                 var producer = new KafkaProducer<>(SharedKafka.settings().producer("scripted", Map.of()), new StringSerializer(),
                         new ByteArraySerializer())) {
                List<TopicPartition> partitions = consumer.partitionsFor(Topics.DOCS).stream()
                        .map(p -> new TopicPartition(Topics.DOCS, p.partition())).toList();
                consumer.assign(partitions);
                consumer.seekToBeginning(partitions);
                List<ConsumerRecord<String, byte[]>> waiting = new ArrayList<>();
                Set<String> answered = ConcurrentHashMap.newKeySet();
                while (!stop) {
                    consumer.poll(Duration.ofMillis(50)).forEach(waiting::add);
                    for (var it = waiting.iterator(); it.hasNext(); ) {
                        var record = it.next();
                        SurrogateRequest r = REQUESTS.decode(record.value());
                        if (!r.getExperimentId().equals(experiment)) {
                            it.remove();
                        } else if (answerable.test(r.getSampleId()) && answered.add(r.getSampleId() + r.getRequestHash())) {
                            answer(producer, record, r);
                            it.remove();
                        }
                    }
                    producer.flush();
                }
            }
        }

        private void answer(KafkaProducer<String, byte[]> producer, ConsumerRecord<String, byte[]> record, SurrogateRequest r) {
            if (deadFor.contains(r.getSampleId())) {
                DeadLetter letter = DeadLetter.newBuilder().setSourceTopic(Topics.DOCS).setSourcePartition(record.partition())
                        .setSourceOffset(record.offset()).setKey(ByteBuffer.wrap(record.key().getBytes(StandardCharsets.UTF_8)))
                        .setValue(ByteBuffer.wrap(record.value())).setStage("process").setError("IllegalArgumentException")
                        .setMessage("no generator for you").setWorker("scripted").build();
                producer.send(new ProducerRecord<>(Topics.DEAD, record.key(), AvroSerde.of(DeadLetter.class).encode(letter)));
                return;
            }
            String first = r.getDocument().split(" ")[0];
            List<Surrogate> out = new ArrayList<>();
            for (NamedText t : r.getTemplates()) {
                boolean fail = emptyFor.contains(r.getSampleId()) && t.getName().equals("b");
                out.add(base(r, t.getName(), SurrogateSource.GENERATED).setText(fail ? null : t.getName() + " about " + first)
                        .setError(fail ? "empty generation" : null).setQuerySimilarity(fail ? null : SIMILARITY.get(t.getName()))
                        .setGenerator(new ModelRef("tiny-instruct", null)).build());
            }
            for (NamedText t : r.getTexts()) {
                out.add(base(r, t.getName(), SurrogateSource.GIVEN).setText(t.getText()).setQuerySimilarity(SIMILARITY.get(t.getName())).build());
            }
            for (Surrogate s : out) {
                producer.send(new ProducerRecord<>(Topics.SURROGATES, Topics.surrogateKey(s.getExperimentId(), s.getSampleId(),
                        s.getName()), ANSWERS.encode(s)));
            }
        }

        private static Surrogate.Builder base(SurrogateRequest r, String name, SurrogateSource source) {
            return Surrogate.newBuilder().setExperimentId(r.getExperimentId()).setSampleId(r.getSampleId()).setName(name)
                    .setSource(source).setRequestHash(r.getRequestHash()).setEmbedder("mini-embedder").setWorker("scripted");
        }

        @Override
        public void close() throws InterruptedException {
            stop = true;
            thread.join(10_000);
        }
    }
}
