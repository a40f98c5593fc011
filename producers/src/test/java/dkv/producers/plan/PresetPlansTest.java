package dkv.producers.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.ConditionSpec;
import dkv.avro.Placement;
import dkv.avro.Sample;
import dkv.producers.corpus.CorpusScan;
import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.DatasetFormat;
import dkv.producers.dataset.ReaderOptions;
import dkv.producers.surrogate.GeneratorResources;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every preset under producers/plans/ parses, and expands on real samples to its stated condition count. */
class PresetPlansTest {
    private static final Map<String, Integer> EXPECTED_CONDITIONS = new TreeMap<>(Map.ofEntries(
            Map.entry("v2-exp01", 15), Map.entry("v2-exp04", 11), Map.entry("v2-exp05", 8), Map.entry("v2-exp06", 16),
            Map.entry("v2-exp07", 18), Map.entry("v2-exp08", 10), Map.entry("v2-exp09", 20), Map.entry("v3-exp01", 7),
            Map.entry("v3-exp02", 11), Map.entry("v3-exp2b", 12), Map.entry("v3-exp03", 15), Map.entry("v3-exp04a", 5),
            Map.entry("v3-exp04b", 5), Map.entry("v3-exp04-wands", 5), Map.entry("v2-exp02", 12),
            Map.entry("v2-exp04-generated", 14), Map.entry("v2-exp05-generated", 13), Map.entry("v2-exp06-generated", 32),
            Map.entry("v3-exp05", 8)));

    static Path resource(String name) {
        try {
            return Path.of(PresetPlansTest.class.getResource(name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void presetIndexListsEveryPlanFile() throws IOException {
        try (Stream<Path> files = Files.list(Path.of("plans"))) {
            Set<String> onDisk = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".json"))
                    .map(n -> n.replace(".json", "")).collect(Collectors.toSet());
            assertEquals(EXPECTED_CONDITIONS.keySet(), onDisk);
        }
        assertEquals(List.copyOf(EXPECTED_CONDITIONS.keySet()), Plan.presets().stream().sorted().toList());
    }

    @Test
    void everyPresetParsesAndExpandsToItsConditionCount(@TempDir Path dir) throws IOException {
        Dataset dataset = new Dataset(resource("/datasets/msmarco_v11.jsonl"), DatasetFormat.MSMARCO_JSONL, ReaderOptions.defaults());
        List<Sample> samples = new ArrayList<>();
        try (var reader = dataset.open()) {
            reader.forEachRemaining(samples::add);
        }
        Path generated = dir.resolve("generated.tsv");
        Files.writeString(generated, samples.stream().map(s -> s.getId() + "\tgenerated query about " + s.getQuery())
                .collect(Collectors.joining("\n")));
        GeneratorResources resources = new GeneratorResources(Optional.of(resource("/tiny-model")), dir, Optional.of(generated));

        for (var expected : EXPECTED_CONDITIONS.entrySet()) {
            Plan plan = Plan.preset(expected.getKey());
            Plan fromFile = Plan.load(Path.of("plans", expected.getKey() + ".json"));
            assertEquals(fromFile.hash(), plan.hash(), "classpath copy equals the file");
            assertEquals(expected.getKey(), plan.experimentId());
            assertEquals(expected.getValue(), plan.conditions().size(), plan.experimentId());
            assertTrue(plan.model().isPresent(), plan.experimentId());
            assertEquals(42, plan.seed());

            if (plan.conditions().stream().anyMatch(c -> c.documentTokens().isPresent())) {
                continue; // long documents need more text than these samples hold: LongDocumentsTest expands them
            }
            PlanExpander expander = plan.expander(resources, CorpusScan.run(dataset, plan.seed(), Optional.empty()).corpus());
            for (Sample sample : samples) {
                List<ConditionSpec> specs = expander.conditionsFor(sample, answers(plan));
                assertEquals(expected.getValue(), specs.size());
                for (ConditionSpec spec : specs) {
                    String where = plan.experimentId() + "/" + spec.getName();
                    boolean needsSurrogate = switch (spec.getPlacement()) {
                        case PREFIX_FULL, PREFIX_TRUNCATED, SUFFIX -> true;
                        default -> false;
                    };
                    if (needsSurrogate) {
                        assertNotNull(spec.getSurrogate(), where);
                    }
                    if (spec.getPlacement() == Placement.PREFIX_LM) {
                        assertEquals("glm", spec.getRequiresFamily(), where);
                    }
                    if (spec.getPlacement() == Placement.ENCODER_COENCODE || spec.getPlacement() == Placement.ENCODER_COENCODE_MASKED) {
                        assertEquals("t5gemma2", spec.getRequiresFamily(), where);
                        // v3 scored the answer alone: no query in the decoder, no leading space
                        assertEquals("", spec.getQueryFree() ? spec.getQueryFreeTemplate() : "query in the decoder", where);
                        assertEquals("{answer}", spec.getAnswerTemplate(), where);
                    }
                }
            }
        }
    }

    /** What the generator workers would answer for every template and embedded text of a plan (similarity by position). */
    static GeneratedTexts answers(Plan plan) {
        if (plan.generation().isEmpty()) {
            return GeneratedTexts.NONE;
        }
        Map<String, GeneratedTexts.Answer> byName = new java.util.HashMap<>();
        int i = 0;
        for (String t : plan.generation().get().templates().keySet()) {
            byName.put(t, new GeneratedTexts.Answer("generated by " + t, 0.1 * ++i, null));
        }
        for (PlanCondition c : plan.embeddedOnly()) {
            byName.put(c.name(), new GeneratedTexts.Answer("given", 0.05 * ++i, null));
        }
        return new GeneratedTexts(byName, plan.generation().get().model().map(m -> m.getId()));
    }

    /**
     * The generated-surrogate presets (lab notebook exps 02, 04, 05, 06 and v3 exp 05): the research's generator settings,
     * dkv's templates, pools of five generated and five static surrogates with routed and best-of derived conditions,
     * and every routed member carrying a query similarity once joined.
     */
    @Test
    void generatedPresetsHaveTheResearchSettingsPoolsAndDerivedConditions() {
        for (String name : List.of("v2-exp02", "v2-exp04-generated", "v2-exp05-generated", "v2-exp06-generated")) {
            Plan plan = Plan.preset(name);
            GenerationSpec g = plan.generation().orElseThrow(() -> new AssertionError(name));
            assertEquals("mistralai/Mistral-7B-Instruct-v0.2", g.model().orElseThrow().getId(), name);
            assertEquals(List.copyOf(PromptTemplates.DEFAULTS.keySet()), List.copyOf(g.templates().keySet()), name);
            assertEquals(0.3, g.temperature(), name);
            assertEquals(45, g.maxNewTokens(), name);
            assertEquals(Optional.of("sentence-transformers/all-MiniLM-L6-v2"), g.embedder(), name);
            long generated = plan.conditions().stream().filter(c -> c.target() == dkv.avro.ScoreTarget.ANSWER
                    && plan.streamedTemplate(c).filter(t -> !t.equals("routed")).isPresent()).count();
            assertEquals(5, generated, name + ": one generated condition per template (signals aside)");
            assertEquals(name.equals("v2-exp06-generated") ? 6 : 5, plan.embeddedOnly().size(),
                    name + ": the static pool is embedded by the workers (and exp 06's bare passage)");
            Map<String, List<String>> derived = plan.derived().stream().collect(Collectors.toMap(d -> d.getKind() + ":" + d.getName(),
                    d -> d.getMembers()));
            assertTrue(derived.keySet().stream().anyMatch(k -> k.startsWith("ROUTED:")), name);
            assertTrue(derived.keySet().stream().anyMatch(k -> k.startsWith("BEST_OF:")), name);
        }
        assertEquals(Map.of("ROUTED", 5, "BEST_OF", 5), pools("v2-exp02", "generated"));
        assertEquals(Map.of("ROUTED", 5, "BEST_OF", 5), pools("v2-exp05-generated", "static"));
        assertEquals(91, Plan.preset("v2-exp05-generated").samples().orElseThrow());
        Plan exp06 = Plan.preset("v2-exp06-generated");
        assertEquals(Optional.of("routed"), exp06.condition("generated_routed_trunc").flatMap(exp06::streamedTemplate));

        Plan v3 = Plan.preset("v3-exp05");
        GenerationSpec g = v3.generation().orElseThrow();
        assertEquals("google/gemma-2-9b-it", g.model().orElseThrow().getId());
        assertEquals(List.of("need", "question", "keywords"), List.copyOf(g.templates().keySet()));
        assertEquals(0.7, g.temperature());
        assertEquals(0.9, g.topP());
        assertEquals(30, g.maxNewTokens());
        Sample sample = Sample.newBuilder().setId("s").setDataset("d").setQuery("q").setPassage("p").setAnswer("a").build();
        Map<String, ConditionSpec> specs = v3.expander(GeneratorResources.none(), dkv.producers.corpus.Corpus.empty(42))
                .conditionsFor(sample, answers(v3)).stream().collect(Collectors.toMap(ConditionSpec::getName, c -> c));
        assertEquals("generated by need generated by need generated by need generated by need", specs.get("gen_need_x4").getSurrogate());
        assertEquals("need", specs.get("gen_need_x4").getSurrogateTemplate());
        assertEquals("google/gemma-2-9b-it", specs.get("gen_need_x4").getSurrogateGenerator());
        assertEquals(0.1, specs.get("gen_need").getQuerySimilarity(), 1e-12);
    }

    /**
     * Lab notebook v1 exp 06's pool: 11 caches (bare + 5 generated + 5 static truncated) routed four ways over the same
     * members, the two NLL routers by one signal per member that builds that member's cache and scores exactly the
     * query prompt the member's answer follows; the bare cache routes by its passage's similarity.
     */
    @Test
    void exp06PoolHasTheNotebooksFourRouters(@TempDir Path dir) throws IOException {
        Plan exp06 = Plan.preset("v2-exp06-generated");
        assertEquals(List.of("pool_routed:ROUTED", "pool_routed_by_nll:ROUTED_BY_NLL", "pool_rank_average:RANK_AVERAGE",
                "pool_best_of:BEST_OF"), exp06.derived().stream().map(d -> d.getName() + ":" + d.getKind()).toList());
        List<String> pool = exp06.derived().getFirst().getMembers();
        assertEquals(11, pool.size());
        assertEquals("bare", pool.getFirst());
        assertEquals(5, pool.stream().filter(m -> m.startsWith("static_")).count());
        for (var d : exp06.derived()) {
            assertEquals(pool, d.getMembers(), d.getName() + ": the routers and the oracle share the pool");
        }
        List<String> signals = exp06.derived().get(1).getSignals();
        assertEquals(signals, exp06.derived().get(2).getSignals());
        assertEquals(11, signals.size());
        for (int m = 0; m < pool.size(); m++) {
            PlanCondition member = exp06.condition(pool.get(m)).orElseThrow();
            PlanCondition signal = exp06.condition(signals.get(m)).orElseThrow();
            assertEquals(null, member.cacheDifference(signal), signal.name());
            assertEquals(dkv.avro.ScoreTarget.QUERY, signal.target());
            assertEquals(member.queryTemplate(), signal.queryFreeTemplate() + signal.answerTemplate().replace("{answer}",
                    "{query}"), signal.name() + " scores the query prompt that " + member.name() + "'s answer follows");
        }
        assertTrue(exp06.embeddedOnly().stream().anyMatch(c -> c.name().equals("bare")), "the bare cache routes too");
        assertEquals(32, exp06.meta(1).getPlannedConditions(), "signals are scored conditions");

        Dataset dataset = new Dataset(resource("/datasets/msmarco_v11.jsonl"), DatasetFormat.MSMARCO_JSONL, ReaderOptions.defaults());
        Sample sample;
        try (var reader = dataset.open()) {
            sample = reader.next();
        }
        PlanExpander expander = exp06.expander(new GeneratorResources(Optional.of(resource("/tiny-model")), dir,
                Optional.empty()), CorpusScan.run(dataset, exp06.seed(), Optional.empty()).corpus());
        assertEquals(sample.getPassage(), expander.embeddedOnlyTexts(sample).get("bare"), "bare is embedded as its passage");
        Map<String, ConditionSpec> specs = expander.conditionsFor(sample, answers(exp06)).stream()
                .collect(Collectors.toMap(ConditionSpec::getName, c -> c));
        for (int m = 0; m < pool.size(); m++) {
            assertEquals(specs.get(pool.get(m)).getSurrogate(), specs.get(signals.get(m)).getSurrogate(), signals.get(m));
            assertNotNull(specs.get(pool.get(m)).getQuerySimilarity(), pool.get(m) + " can be routed by similarity");
        }
    }

    private static Map<String, Integer> pools(String preset, String prefix) {
        return Plan.preset(preset).derived().stream().filter(d -> d.getName().startsWith(prefix + "_"))
                .collect(Collectors.toMap(d -> d.getKind().name(), d -> d.getMembers().size()));
    }

    @Test
    void prefixLmPresetKeepsGroupsAToF() {
        Plan plan = Plan.preset("v2-exp09");
        Map<String, Long> groups = plan.conditions().stream()
                .collect(Collectors.groupingBy(c -> c.group().orElse("?"), TreeMap::new, Collectors.counting()));
        assertEquals(Map.of("A", 2L, "B", 6L, "C", 3L, "D", 3L, "E", 2L, "F", 4L), groups);
        assertTrue(plan.conditions().stream().allMatch(c -> c.requiresFamily().equals(Optional.of("glm"))));
        // DESIGN.md "Prefix-LM layout": the surrogate after the document inside the bidirectional region is SUFFIX
        assertTrue(plan.conditions().stream().noneMatch(c -> c.placement() == Placement.PREFIX_LM));
        assertEquals(new DataFilter(50, 300, 0.5, 2), plan.data(), "the notebook's data selection");
    }

    @Test
    void rankingPresetsSayTheirTargetAndCap() {
        Plan msMarco = Plan.preset("v3-exp04a");
        assertEquals(Optional.of(new RankingSpec(10, RankingSpec.OverCap.REFUSE)), msMarco.ranking());
        assertTrue(msMarco.conditions().stream().allMatch(c -> c.target() == dkv.avro.ScoreTarget.ANSWER));
        for (String name : List.of("v3-exp04b", "v3-exp04-wands")) {
            Plan plan = Plan.preset(name);
            assertEquals(Optional.of(new RankingSpec(100, RankingSpec.OverCap.SPLIT)), plan.ranking(), name);
            assertTrue(plan.conditions().stream().allMatch(c -> c.target() == dkv.avro.ScoreTarget.QUERY), name);
        }
        assertEquals(Map.of("small_version", "1", "split", "test", "product_locale", "us"),
                Plan.preset("v3-exp04b").datasetFilters());
        List<Integer> lengths = Plan.preset("v3-exp03").conditions().stream()
                .map(c -> c.documentTokens().orElseThrow()).distinct().toList();
        assertEquals(List.of(256, 384, 512, 1024, 2048), lengths);
    }

    @Test
    void contrastsAndCorrelationsReferenceConditions() {
        for (String name : Plan.presets()) {
            Plan plan = Plan.preset(name);
            Set<String> names = plan.conditions().stream().map(PlanCondition::name).collect(Collectors.toSet());
            assertTrue(names.contains(plan.baseline()));
            plan.derived().forEach(d -> names.add(d.getName())); // contrasts may name derived conditions, the baseline not
            plan.derived().forEach(d -> names.removeAll(d.getSignals())); // signals are query NLLs: never compared
            plan.oracle().ifPresent(o -> assertTrue(names.contains(o)));
            plan.contrasts().forEach(p -> assertTrue(names.contains(p.getA()) && names.contains(p.getB())));
            assertFalse(plan.meta(10).getContrasts().isEmpty(), name);
        }
    }
}
