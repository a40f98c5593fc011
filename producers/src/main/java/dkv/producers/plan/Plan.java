package dkv.producers.plan;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.avro.ConditionPair;
import dkv.avro.CrossMask;
import dkv.avro.DerivedCondition;
import dkv.avro.ExperimentMeta;
import dkv.avro.ModelRef;
import dkv.avro.ScoreTarget;
import dkv.producers.corpus.Corpus;
import dkv.producers.dataset.JsonErrors;
import dkv.producers.surrogate.GeneratorResources;
import dkv.producers.surrogate.SurrogateKinds;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * An experiment plan: conditions (placements + surrogate kinds), the statistics to run on them
 * (baseline, oracle, contrasts, correlations), the model it is meant for, the seed and the sample count.
 * The one parser of plans: {@code dkv produce} and {@code dkv score} both load plans here.
 *
 * @param source    where the plan came from (file path or preset name), for messages
 * @param baseDir   relative file parameters resolve against it
 * @param model     the model the plan was written for: the default model id of its WorkItems
 * @param modelPinned the plan insists on {@code model} ({@code "pinned": true}): {@code dkv produce --model-dir}
 *                  then does not stamp the directory's own id instead
 * @param samples   how many samples to draw (seeded); empty = every sample of the dataset, in file order
 * @param baseline  the reference condition of every paired statistic
 * @param ranking   present in a ranking experiment: WorkItems carry each query's candidates
 * @param datasetFilters dataset filters the plan was designed for (e.g. ESCI's split); the command line may override
 * @param data      which samples of the dataset qualify ({@link DataFilter#NONE}: all the reader makes)
 * @param derived   conditions the aggregator picks per sample among scored members (routed, best_of, routed_by_nll,
 *                  rank_average); nothing is scored for them, so they are not in {@code conditions} (their signals are)
 * @param generation present when surrogates come from the generator workers ({@code dkv.docs} → {@code dkv.surrogates}):
 *                  generated conditions and the query similarities of routed members
 */
public record Plan(
        String source,
        Path baseDir,
        String experimentId,
        Optional<String> description,
        Optional<ModelRef> model,
        boolean modelPinned,
        long seed,
        Optional<Integer> samples,
        String baseline,
        Optional<String> oracle,
        List<ConditionPair> contrasts,
        List<ConditionPair> correlations,
        List<PlanCondition> conditions,
        Optional<RankingSpec> ranking,
        Map<String, String> datasetFilters,
        DataFilter data,
        List<DerivedCondition> derived,
        Optional<GenerationSpec> generation) {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PRESETS = "/dkv/plans/";

    public Plan {
        contrasts = List.copyOf(contrasts);
        correlations = List.copyOf(correlations);
        conditions = List.copyOf(conditions);
        datasetFilters = Collections.unmodifiableSortedMap(new TreeMap<>(datasetFilters));
        derived = List.copyOf(derived);
    }

    /** Reads a plan file; errors name the file and the JSON path. The experiment id defaults to the file name. */
    public static Plan load(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new PlanException(file.toString(), "plan file not found");
        }
        try {
            String name = file.getFileName().toString().replaceFirst("\\.json$", "");
            Path dir = file.toAbsolutePath().getParent();
            return parse(Files.readString(file, StandardCharsets.UTF_8), file.toString(), name, dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read plan " + file + ": " + e.getMessage(), e);
        }
    }

    /** A preset shipped with dkv (the files of producers/plans/), by name without ".json". */
    public static Plan preset(String name) {
        try (InputStream in = Plan.class.getResourceAsStream(PRESETS + name + ".json")) {
            if (in == null) {
                throw new PlanException("preset:" + name, "no such preset (known: " + String.join(", ", presets()) + ")");
            }
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), "preset:" + name, name, Path.of("."));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read preset " + name, e);
        }
    }

    /** A file path if such a file exists, else a preset name. */
    public static Plan loadFileOrPreset(String fileOrPreset) {
        Path path = Path.of(fileOrPreset);
        return Files.exists(path) || fileOrPreset.endsWith(".json") ? load(path) : preset(fileOrPreset);
    }

    /** The preset names, from the index shipped beside them. */
    public static List<String> presets() {
        try (InputStream in = Plan.class.getResourceAsStream(PRESETS + "index.txt")) {
            if (in == null) {
                return List.of();
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().map(String::strip)
                    .filter(line -> !line.isEmpty()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list presets", e);
        }
    }

    public static Plan parse(String json, String source, String defaultExperimentId, Path baseDir) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JacksonException e) {
            throw new PlanException(source, "line " + (e.getLocation() == null ? "?" : e.getLocation().getLineNr()),
                    "not valid JSON: " + JsonErrors.brief(e));
        }
        return new PlanParser(source, root).parse(defaultExperimentId, baseDir);
    }

    /**
     * Whether any surrogate reads dataset statistics or donors, or a long document borrows donors' passages, i.e.
     * needs the first pass over the dataset.
     */
    public boolean usesCorpus() {
        return conditions.stream().anyMatch(c -> c.documentTokens().isPresent())
                || conditions.stream().flatMap(c -> c.surrogateKind().flatMap(SurrogateKinds::find).stream())
                        .anyMatch(kind -> kind.usesCorpus());
    }

    /** The template a condition's generated surrogate comes from (a name, or {@link GenerationSpec#ROUTED}), if any. */
    public Optional<String> streamedTemplate(PlanCondition c) {
        return generation.isEmpty() || !c.surrogateKind().equals(Optional.of("generated")) ? Optional.empty()
                : Optional.ofNullable(c.params().get("template")).filter(JsonNode::isTextual).map(JsonNode::asText);
    }

    /**
     * Conditions whose text the producer has but whose query similarity the generator workers compute: the members of
     * derived conditions that route by similarity (routed, rank_average) and are not generated from a template — a
     * static pool, and a member without a surrogate (the bare cache), which is represented by its passage as in the
     * research's pool routing (lab notebook v1 exp 06: cosine of the passage and the query). Their names are the names
     * of their texts in the requests.
     */
    public List<PlanCondition> embeddedOnly() {
        if (generation.isEmpty()) {
            return List.of();
        }
        java.util.Set<String> bySimilarity = new java.util.LinkedHashSet<>();
        derived.stream().filter(d -> routesBySimilarity(d.getKind())).forEach(d -> bySimilarity.addAll(d.getMembers()));
        return conditions.stream().filter(c -> bySimilarity.contains(c.name()) && streamedTemplate(c).isEmpty()).toList();
    }

    /** Derived kinds whose pick reads the members' query similarities. */
    static boolean routesBySimilarity(dkv.avro.DerivedKind kind) {
        return kind == dkv.avro.DerivedKind.ROUTED || kind == dkv.avro.DerivedKind.RANK_AVERAGE;
    }

    public Optional<PlanCondition> condition(String name) {
        return conditions.stream().filter(c -> c.name().equals(name)).findFirst();
    }

    /** Builds the generators (loading tokenizer and surrogate files) and returns the per-sample expander. */
    public PlanExpander expander(GeneratorResources resources, Corpus corpus) {
        return new PlanExpander(this, resources, corpus);
    }

    public ExperimentMeta meta(long plannedSamples) {
        return ExperimentMeta.newBuilder()
                .setBaseline(baseline)
                .setOracle(oracle.orElse(null))
                .setContrasts(new ArrayList<>(contrasts))
                .setCorrelations(new ArrayList<>(correlations))
                .setPlannedSamples(plannedSamples)
                .setPlannedConditions(conditions.size())
                .setDerived(new ArrayList<>(derived))
                .build();
    }

    public Plan withModel(ModelRef ref) {
        return new Plan(source, baseDir, experimentId, description, Optional.of(ref), modelPinned, seed, samples, baseline, oracle,
                contrasts, correlations, conditions, ranking, datasetFilters, data, derived, generation);
    }

    /**
     * The plan with every default filled in and keys sorted: two files that mean the same plan (key order,
     * whitespace, defaults written out or not) have the same canonical form. Descriptions are left out.
     */
    public String canonicalJson() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode root = f.objectNode();
        root.put("experiment_id", experimentId);
        model.ifPresent(m -> {
            ObjectNode node = root.putObject("model").put("id", m.getId()).put("revision", m.getRevision());
            if (modelPinned) { // only where set: plans that do not pin keep the hashes they had
                node.put("pinned", true);
            }
        });
        root.put("seed", seed);
        samples.ifPresent(n -> root.put("samples", n));
        root.put("baseline", baseline);
        oracle.ifPresent(o -> root.put("oracle", o));
        root.set("contrasts", pairs(contrasts, f));
        root.set("correlations", pairs(correlations, f));
        if (!data.isNone()) {
            ObjectNode d = root.putObject("data");
            d.putArray("passage_words").add(data.minPassageWords()).add(data.maxPassageWords());
            d.put("max_answer_passage_chars", data.maxAnswerPassageChars());
            d.put("min_answer_tokens", data.minAnswerTokens());
        }
        ArrayNode list = root.putArray("conditions");
        for (PlanCondition c : conditions) {
            ObjectNode node = list.addObject();
            node.put("name", c.name());
            c.group().ifPresent(g -> node.put("group", g));
            node.put("placement", c.placement().name());
            c.surrogateKind().ifPresent(k -> node.put("surrogate_kind", k));
            c.template().ifPresent(t -> node.put("surrogate", t));
            new TreeMap<>(c.params()).forEach(node::set);
            node.put("rope_correction", c.ropeCorrection().name());
            node.put("keep_bos", c.keepBos());
            node.put("document_template", c.documentTemplate());
            node.put("separator", c.separator());
            node.put("query_template", c.queryTemplate());
            node.put("query_free_template", c.queryFreeTemplate());
            node.put("answer_template", c.answerTemplate());
            node.put("query_free", c.queryFree());
            node.put("capture_attention", c.captureAttention());
            c.requiresFamily().ifPresent(r -> node.put("requires_family", r));
            // written only when not the default, so plans from before these keys keep their hash
            if (c.target() != ScoreTarget.ANSWER) {
                node.put("target", c.target().name());
            }
            c.documentTokens().ifPresent(n -> node.put("document_tokens", n));
            if (c.crossMask() != CrossMask.PREFIX) {
                node.put("cross_mask", c.crossMask().name());
            }
        }
        ranking.ifPresent(r -> root.set("ranking", f.objectNode().put("max_candidates", r.maxCandidates())
                .put("over_cap", r.overCap().name().toLowerCase(java.util.Locale.ROOT))));
        if (!datasetFilters.isEmpty()) {
            ObjectNode filters = root.putObject("dataset_filters");
            datasetFilters.forEach(filters::put);
        }
        if (!derived.isEmpty()) { // only where set, so plans from before derived conditions keep their hash
            ArrayNode derivedList = root.putArray("derived");
            for (DerivedCondition d : derived) {
                ObjectNode node = derivedList.addObject().put("name", d.getName())
                        .put("kind", d.getKind().name().toLowerCase(java.util.Locale.ROOT));
                d.getMembers().forEach(node.putArray("members")::add); // order kept: it breaks ties
                if (!d.getSignals().isEmpty()) { // only where set, so plans from before signals keep their hash
                    d.getSignals().forEach(node.putArray("signals")::add);
                }
            }
        }
        generation.ifPresent(g -> g.writeTo(root.putObject("generation"))); // only where set: older plans keep their hash
        try {
            return JSON.writeValueAsString(sorted(root));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** SHA-256 of the canonical plan, first 16 hex digits: stamped on every WorkItem and score. */
    public String hash() {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(canonicalJson().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks SHA-256", e);
        }
    }

    private static ArrayNode pairs(List<ConditionPair> pairs, JsonNodeFactory f) {
        ArrayNode list = f.arrayNode();
        pairs.forEach(p -> list.addObject().put("name", p.getName()).put("a", p.getA()).put("b", p.getB()));
        return list;
    }

    private static JsonNode sorted(JsonNode node) {
        if (node.isObject()) {
            ObjectNode out = JsonNodeFactory.instance.objectNode();
            Map<String, JsonNode> fields = new TreeMap<>();
            node.properties().forEach(e -> fields.put(e.getKey(), e.getValue()));
            fields.forEach((k, v) -> out.set(k, sorted(v)));
            return out;
        }
        if (node.isArray()) {
            ArrayNode out = JsonNodeFactory.instance.arrayNode();
            node.forEach(v -> out.add(sorted(v)));
            return out;
        }
        return node;
    }
}
