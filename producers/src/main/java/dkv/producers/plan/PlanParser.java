package dkv.producers.plan;

import com.fasterxml.jackson.databind.JsonNode;
import dkv.avro.ConditionPair;
import dkv.avro.DerivedCondition;
import dkv.avro.DerivedKind;
import dkv.avro.ModelRef;
import dkv.avro.Placement;
import dkv.avro.CrossMask;
import dkv.avro.RopeCorrection;
import dkv.avro.ScoreTarget;
import dkv.producers.surrogate.KeywordsSurrogate;
import dkv.producers.surrogate.LeadSentenceSurrogate;
import dkv.producers.surrogate.TemplateSurrogate;
import dkv.producers.surrogate.SurrogateKind;
import dkv.producers.surrogate.SurrogateKinds;
import dkv.producers.surrogate.SurrogateParams;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiFunction;

/**
 * Reads the plan JSON: the {@code dkv score} format (templates + conditions) and its experiment
 * extensions. Plan-level template/flag keys are defaults that a condition may override. Unknown keys are
 * errors, so a typo never silently falls back to a default.
 */
final class PlanParser {
    /** Keys that may appear at plan level as defaults and on a condition as overrides. */
    private static final Set<String> CONDITION_DEFAULTS = Set.of("query_template", "query_free_template",
            "answer_template", "document_template", "separator", "rope_correction", "keep_bos", "capture_attention", "cross_mask",
            "target");
    private static final Set<String> PLAN_KEYS = union(CONDITION_DEFAULTS, Set.of("experiment_id", "description",
            "model", "seed", "samples", "baseline", "oracle", "contrasts", "correlations", "conditions", "ranking",
            "dataset_filters", "data", "derived", "generation"));
    private static final Set<String> CONDITION_KEYS = union(CONDITION_DEFAULTS, Set.of("name", "group", "placement",
            "surrogate", "surrogate_kind", "query_free", "requires_family", "description", "document_tokens"));
    /**
     * Kinds that derive the surrogate from the sample's scored passage. In a ranking plan every candidate is a
     * document of its own while a WorkItem's surrogate is one per condition, so they have no single passage to read.
     */
    private static final Set<String> DOCUMENT_DERIVED = Set.of(KeywordsSurrogate.KIND.name(),
            TemplateSurrogate.KIND.name(), LeadSentenceSurrogate.KIND.name());
    /** Longest document a condition may ask for, in tokens (the research went to 6144). */
    static final int MAX_DOCUMENT_TOKENS = 131_072;

    private final String source;
    private final JsonNode root;

    PlanParser(String source, JsonNode root) {
        this.source = source;
        this.root = root;
    }

    Plan parse(String defaultExperimentId, Path baseDir) {
        if (root == null || !root.isObject()) {
            throw new PlanException(source, "$", "expected a JSON object");
        }
        rejectUnknown(root, "$", PLAN_KEYS);
        String experimentId = text(root, "$", "experiment_id").orElse(defaultExperimentId);
        if (experimentId.isBlank() || experimentId.contains("/")) {
            throw new PlanException(source, "$.experiment_id", "must be non-empty and contain no '/' (it prefixes Kafka keys)");
        }
        long seed = integer(root, "$", "seed").orElse(42L);
        Optional<Integer> samples = integer(root, "$", "samples").map(n -> {
            if (n < 1 || n > Integer.MAX_VALUE) {
                throw new PlanException(source, "$.samples", "expected a positive integer, found " + n);
            }
            return n.intValue();
        });
        List<PlanCondition> conditions = conditions();
        Optional<RankingSpec> ranking = ranking();
        ranking.ifPresent(r -> checkRankingConditions(conditions));
        Set<String> names = new HashSet<>();
        for (PlanCondition c : conditions) {
            names.add(c.name());
        }
        checkReferences(conditions, names);
        String baseline = text(root, "$", "baseline").orElseGet(() -> defaultBaseline(conditions));
        requireCondition(names, "$.baseline", baseline);
        List<DerivedCondition> derived = derived(conditions, ranking.isPresent());
        // the statistics may name derived conditions too (e.g. best_of as the oracle); the baseline must be scored.
        // A routing signal is scored but holds a query NLL: no statistic compares it with answer NLLs
        Set<String> signals = new HashSet<>();
        derived.forEach(d -> signals.addAll(d.getSignals()));
        refuseSignal(signals, "$.baseline", baseline);
        Set<String> analysed = new HashSet<>(names);
        analysed.removeAll(signals);
        derived.forEach(d -> analysed.add(d.getName()));
        Optional<String> oracle = text(root, "$", "oracle");
        oracle.ifPresent(o -> {
            refuseSignal(signals, "$.oracle", o);
            requireCondition(analysed, "$.oracle", o);
        });
        Optional<GenerationSpec> generation = generation(baseDir, seed);
        if (generation.isPresent() && ranking.isPresent()) {
            throw new PlanException(source, "$.generation", "generated surrogates are written per document; a ranking plan"
                    + " has one surrogate per query");
        }
        Plan plan = new Plan(source, baseDir, experimentId, text(root, "$", "description"), model(), modelPinned(), seed, samples,
                baseline, oracle, pairs("contrasts", analysed, signals, true), pairs("correlations", analysed, signals, false), conditions,
                ranking, datasetFilters(), data(), derived, generation);
        checkGenerated(plan);
        return plan;
    }

    /**
     * {@code "generation": {"model", "templates" | "templates_file", "max_new_tokens", "temperature", "top_p", "top_k",
     * "seed", "first_line", "strip_quotes", "embedder"}}; the templates default to dkv's five.
     */
    private Optional<GenerationSpec> generation(Path baseDir, long planSeed) {
        JsonNode node = root.get("generation");
        if (node == null || node.isNull()) {
            return Optional.empty();
        }
        String at = "$.generation";
        if (!node.isObject()) {
            throw new PlanException(source, at, "expected an object {model, templates, max_new_tokens, temperature, ...}");
        }
        rejectUnknown(node, at, Set.of("model", "templates", "templates_file", "max_new_tokens", "temperature", "top_p",
                "top_k", "seed", "first_line", "strip_quotes", "embedder"));
        Optional<ModelRef> model = modelAt(node.get("model"), at + ".model");
        java.util.SequencedMap<String, String> templates = new LinkedHashMap<>(PromptTemplates.DEFAULTS);
        JsonNode inline = node.get("templates");
        Optional<String> file = text(node, at, "templates_file");
        if (inline != null && !inline.isNull() && file.isPresent()) {
            throw new PlanException(source, at + ".templates_file", "give templates or templates_file, not both");
        }
        try {
            if (inline != null && !inline.isNull()) {
                if (!inline.isObject() || inline.isEmpty()) {
                    throw new PlanException(source, at + ".templates", "expected a non-empty object {\"name\": \"template\", ...}");
                }
                templates.clear();
                for (var e : inline.properties()) {
                    if (!e.getValue().isTextual()) {
                        throw new PlanException(source, at + ".templates." + e.getKey(), "expected a string, found " + e.getValue());
                    }
                    templates.put(e.getKey(), e.getValue().asText());
                }
                PromptTemplates.check(templates, at + ".templates");
            } else if (file.isPresent()) {
                Path path = baseDir.resolve(file.get());
                templates = PromptTemplates.load(path);
                PromptTemplates.check(templates, path.toString());
            }
        } catch (PlanException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new PlanException(source, e.getMessage());
        }
        long maxNew = integer(node, at, "max_new_tokens").orElse(45L);
        if (maxNew < 1 || maxNew > 4096) {
            throw new PlanException(source, at + ".max_new_tokens", "expected an integer from 1 to 4096, found " + maxNew);
        }
        double temperature = number(node, at, "temperature").orElse(0.0);
        if (!(temperature >= 0 && temperature <= 10)) {
            throw new PlanException(source, at + ".temperature", "expected a number from 0 (greedy) to 10, found " + temperature);
        }
        double topP = number(node, at, "top_p").orElse(1.0);
        if (!(topP > 0 && topP <= 1)) {
            throw new PlanException(source, at + ".top_p", "expected a number in (0, 1], found " + topP);
        }
        long topK = integer(node, at, "top_k").orElse(0L);
        if (topK < 0 || topK > 1_000_000) {
            throw new PlanException(source, at + ".top_k", "expected an integer >= 0 (0: no cut), found " + topK);
        }
        return Optional.of(new GenerationSpec(model, templates, (int) maxNew, temperature, topP, (int) topK,
                integer(node, at, "seed").orElse(planSeed), bool(node, at, "first_line").orElse(true),
                bool(node, at, "strip_quotes").orElse(true), text(node, at, "embedder")));
    }

    /**
     * Generated conditions name a template of the generation block (or routed) and need its model; texts the workers
     * only embed must not read generated text (they are embedded before it exists) nor share a template's name.
     */
    private void checkGenerated(Plan plan) {
        for (PlanCondition c : plan.conditions()) {
            if (!c.surrogateKind().equals(Optional.of("generated")) || !c.params().containsKey("template")) continue;
            String template = c.params().get("template").asText();
            if (plan.generation().isEmpty()) {
                throw new PlanException(source, c.path() + ".template", "a generated template needs the plan's \"generation\""
                        + " block (its model and templates)");
            }
            GenerationSpec g = plan.generation().get();
            if (g.model().isEmpty()) {
                throw new PlanException(source, "$.generation.model", "required: condition '" + c.name() + "' is generated");
            }
            if (!template.equals(GenerationSpec.ROUTED) && !g.templates().containsKey(template)) {
                throw new PlanException(source, c.path() + ".template", "no template named '" + template + "' (known: "
                        + String.join(", ", g.templates().keySet()) + ", or " + GenerationSpec.ROUTED + ")");
            }
        }
        Map<String, PlanCondition> byName = new LinkedHashMap<>();
        plan.conditions().forEach(c -> byName.put(c.name(), c));
        for (PlanCondition c : plan.embeddedOnly()) {
            if (plan.generation().orElseThrow().templates().containsKey(c.name())) {
                throw new PlanException(source, c.path() + ".name", "'" + c.name() + "' is also a template's name; the"
                        + " generator workers answer both under it: rename one");
            }
            for (PlanCondition at = c; at != null; ) {
                if (plan.streamedTemplate(at).isPresent()) {
                    throw new PlanException(source, c.path(), "routed member '" + c.name() + "' reads generated text ('"
                            + at.name() + "'), but its query similarity is computed before that text exists; route over"
                            + " the generated conditions themselves");
                }
                List<String> refs = references(at);
                at = refs.isEmpty() ? null : byName.get(refs.getFirst());
            }
        }
    }

    /**
     * {@code "derived": [{"name", "kind": "routed" | "best_of" | "routed_by_nll" | "rank_average", "members": [scored
     * condition, ...], "signals": [...]}]}: conditions the aggregator picks per sample among scored members; the member
     * order breaks ties. The two kinds that route by an NLL name, per member, its signal ({@link RoutingSignals}).
     */
    private List<DerivedCondition> derived(List<PlanCondition> conditions, boolean rankingPlan) {
        Map<String, PlanCondition> byName = new LinkedHashMap<>();
        conditions.forEach(c -> byName.put(c.name(), c));
        Set<String> scored = byName.keySet();
        JsonNode list = root.get("derived");
        if (list == null || list.isNull()) {
            return List.of();
        }
        if (!list.isArray()) {
            throw new PlanException(source, "$.derived", "expected a list of {name, kind, members}, found " + list);
        }
        if (rankingPlan && !list.isEmpty()) {
            // a pick per candidate is not a ranking, and a best-of over ranking metrics is another statistic
            throw new PlanException(source, "$.derived", "derived conditions pick per sample; a ranking plan has none");
        }
        List<DerivedCondition> derived = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            String path = "$.derived[" + i + "]";
            JsonNode node = list.get(i);
            if (!node.isObject()) {
                throw new PlanException(source, path, "expected an object {name, kind, members}");
            }
            rejectUnknown(node, path, Set.of("name", "kind", "members", "signals"));
            String name = text(node, path, "name").orElseThrow(() -> new PlanException(source, path + ".name", "required"));
            if (name.isBlank() || name.contains("/")) {
                throw new PlanException(source, path + ".name", "must be non-empty and contain no '/'");
            }
            if (scored.contains(name)) {
                throw new PlanException(source, path + ".name", "'" + name + "' is a scored condition; a derived "
                        + "condition needs a name of its own");
            }
            if (!seen.add(name)) {
                throw new PlanException(source, path + ".name", "duplicate derived condition name '" + name + "'");
            }
            DerivedKind kind = derivedKind(node, path);
            List<String> members = members(node, path, scored, list);
            for (int j = 0; j < members.size(); j++) {
                if (byName.get(members.get(j)).target() != ScoreTarget.ANSWER) {
                    throw new PlanException(source, path + ".members[" + j + "]", "'" + members.get(j) + "' scores the "
                            + "query (target QUERY); members are picked by and compared on answer NLLs");
                }
            }
            List<String> signals;
            try {
                signals = RoutingSignals.read(node.get("signals"), path + ".signals", kind, members, byName);
            } catch (IllegalArgumentException e) {
                throw new PlanException(source, e.getMessage());
            }
            derived.add(DerivedCondition.newBuilder().setName(name).setKind(kind).setMembers(members)
                    .setSignals(signals).build());
        }
        return derived;
    }

    /** A routing signal holds a query NLL: naming it where answer NLLs are compared is refused at {@code path}. */
    private void refuseSignal(Set<String> signals, String path, String name) {
        if (signals.contains(name)) {
            throw new PlanException(source, path, "'" + name + "' is a routing signal (it scores the query); statistics "
                    + "compare answer NLLs");
        }
    }

    private DerivedKind derivedKind(JsonNode node, String path) {
        String text = text(node, path, "kind").orElseThrow(() -> new PlanException(source, path + ".kind",
                "required: " + RoutingSignals.KINDS));
        try {
            return DerivedKind.valueOf(text.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new PlanException(source, path + ".kind", "unknown kind '" + text + "' (expected " + RoutingSignals.KINDS + ")");
        }
    }

    private List<String> members(JsonNode node, String path, Set<String> scored, JsonNode allDerived) {
        JsonNode list = node.get("members");
        if (list == null || !list.isArray() || list.size() < 2) {
            throw new PlanException(source, path + ".members", "expected a list of at least two scored conditions");
        }
        List<String> members = new ArrayList<>();
        for (int j = 0; j < list.size(); j++) {
            String at = path + ".members[" + j + "]";
            JsonNode member = list.get(j);
            if (!member.isTextual()) {
                throw new PlanException(source, at, "expected a condition name, found " + member);
            }
            String name = member.asText();
            if (!scored.contains(name)) {
                boolean isDerived = false;
                for (JsonNode d : allDerived) {
                    isDerived |= d.isObject() && name.equals(d.path("name").asText(null));
                }
                throw new PlanException(source, at, isDerived
                        ? "'" + name + "' is derived; members must be scored conditions"
                        : "no scored condition named '" + name + "'");
            }
            if (members.contains(name)) {
                throw new PlanException(source, at, "'" + name + "' is listed twice");
            }
            members.add(name);
        }
        return members;
    }

    /** {@code "ranking": true} or {@code {"max_candidates": N, "over_cap": "split" | "refuse"}}. */
    private Optional<RankingSpec> ranking() {
        JsonNode node = root.get("ranking");
        if (node == null || node.isNull() || (node.isBoolean() && !node.asBoolean())) {
            return Optional.empty();
        }
        if (node.isBoolean()) {
            return Optional.of(RankingSpec.defaults());
        }
        if (!node.isObject()) {
            throw new PlanException(source, "$.ranking", "expected true or {\"max_candidates\": N, \"over_cap\": "
                    + "\"split\" | \"refuse\"}, found " + node);
        }
        rejectUnknown(node, "$.ranking", Set.of("max_candidates", "over_cap"));
        long max = integer(node, "$.ranking", "max_candidates").orElse((long) RankingSpec.DEFAULT_MAX_CANDIDATES);
        if (max < 1 || max > 100_000) {
            throw new PlanException(source, "$.ranking.max_candidates", "expected an integer from 1 to 100000, found " + max);
        }
        RankingSpec.OverCap overCap = text(node, "$.ranking", "over_cap").map(t -> {
            try {
                return RankingSpec.OverCap.parse(t);
            } catch (IllegalArgumentException e) {
                throw new PlanException(source, "$.ranking.over_cap", "expected split or refuse, found '" + t + "'");
            }
        }).orElse(RankingSpec.OverCap.SPLIT);
        return Optional.of(new RankingSpec((int) max, overCap));
    }

    private void checkRankingConditions(List<PlanCondition> conditions) {
        for (PlanCondition c : conditions) {
            if (c.surrogateKind().filter(DOCUMENT_DERIVED::contains).isPresent()) {
                throw new PlanException(source, c.path() + ".surrogate_kind", "'" + c.surrogateKind().get()
                        + "' derives the surrogate from one passage, but in a ranking plan every candidate is a document"
                        + " and a condition has one surrogate per query");
            }
            if (c.documentTokens().isPresent()) {
                throw new PlanException(source, c.path() + ".document_tokens",
                        "a ranking plan scores the candidates as they are; long documents need a plan without ranking");
            }
        }
    }

    /** {@code {"column": "value", ...}}: strings or numbers, compared with the column's text. */
    private Map<String, String> datasetFilters() {
        JsonNode node = root.get("dataset_filters");
        if (node == null || node.isNull()) {
            return Map.of();
        }
        if (!node.isObject()) {
            throw new PlanException(source, "$.dataset_filters", "expected an object of column: value, found " + node);
        }
        Map<String, String> filters = new LinkedHashMap<>();
        node.properties().forEach(e -> {
            if (!e.getValue().isTextual() && !e.getValue().isNumber()) {
                throw new PlanException(source, "$.dataset_filters." + e.getKey(), "expected a string or number, found "
                        + e.getValue());
            }
            filters.put(e.getKey(), e.getValue().asText());
        });
        return filters;
    }

    /** {@code "data": {"passage_words": [min, max], "max_answer_passage_chars": r, "min_answer_tokens": n}}, each optional. */
    private DataFilter data() {
        JsonNode node = root.get("data");
        if (node == null || node.isNull()) {
            return DataFilter.NONE;
        }
        if (!node.isObject()) {
            throw new PlanException(source, "$.data", "expected an object {passage_words, max_answer_passage_chars, min_answer_tokens}");
        }
        rejectUnknown(node, "$.data", Set.of("passage_words", "max_answer_passage_chars", "min_answer_tokens"));
        int min = DataFilter.NONE.minPassageWords();
        int max = DataFilter.NONE.maxPassageWords();
        JsonNode words = node.get("passage_words");
        if (words != null && !words.isNull()) {
            if (!words.isArray() || words.size() != 2 || !words.get(0).canConvertToInt() || !words.get(1).canConvertToInt()
                    || !words.get(0).isIntegralNumber() || !words.get(1).isIntegralNumber()
                    || words.get(0).asInt() < 0 || words.get(0).asInt() > words.get(1).asInt()) {
                throw new PlanException(source, "$.data.passage_words", "expected [min, max] word counts, 0 <= min <= max, found " + words);
            }
            min = words.get(0).asInt();
            max = words.get(1).asInt();
        }
        double ratio = DataFilter.NONE.maxAnswerPassageChars();
        JsonNode r = node.get("max_answer_passage_chars");
        if (r != null && !r.isNull()) {
            if (!r.isNumber() || r.asDouble() <= 0) {
                throw new PlanException(source, "$.data.max_answer_passage_chars", "expected a positive number, found " + r);
            }
            ratio = r.asDouble();
        }
        long tokens = integer(node, "$.data", "min_answer_tokens").orElse(0L);
        if (tokens < 0 || tokens > 1000) {
            throw new PlanException(source, "$.data.min_answer_tokens", "expected an integer from 0 to 1000, found " + tokens);
        }
        return new DataFilter(min, max, ratio, (int) tokens);
    }

    private List<PlanCondition> conditions() {
        JsonNode list = root.get("conditions");
        if (list == null || !list.isArray() || list.isEmpty()) {
            throw new PlanException(source, "$.conditions", "expected a non-empty list of conditions");
        }
        List<PlanCondition> conditions = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            String path = "$.conditions[" + i + "]";
            PlanCondition condition = condition(list.get(i), path);
            if (!seen.add(condition.name())) {
                throw new PlanException(source, path + ".name", "duplicate condition name '" + condition.name() + "'");
            }
            conditions.add(condition);
        }
        return conditions;
    }

    private PlanCondition condition(JsonNode node, String path) {
        if (!node.isObject()) {
            throw new PlanException(source, path, "expected an object");
        }
        String name = text(node, path, "name").orElseThrow(() -> new PlanException(source, path + ".name", "required"));
        if (name.isBlank() || name.contains("/")) {
            throw new PlanException(source, path + ".name", "must be non-empty and contain no '/'");
        }
        Placement placement = enumValue(node, path, "placement", Placement.class).orElse(Placement.NONE);
        Optional<String> template = text(node, path, "surrogate");
        Optional<String> kindName = text(node, path, "surrogate_kind");
        Map<String, JsonNode> params = new LinkedHashMap<>();
        node.properties().forEach(e -> {
            if (!CONDITION_KEYS.contains(e.getKey())) {
                params.put(e.getKey(), e.getValue());
            }
        });
        if (kindName.isEmpty() && template.isPresent()) {
            // the plain score format: a surrogate text with placeholders; "{query}" alone is the oracle
            kindName = Optional.of(template.get().strip().equals("{query}") ? "oracle" : "static");
            if (kindName.get().equals("oracle")) {
                template = Optional.empty();
            }
        }
        if (kindName.isEmpty() && !params.isEmpty()) {
            throw new PlanException(source, path + "." + params.keySet().iterator().next(),
                    "unknown key (surrogate parameters need a surrogate_kind)");
        }
        if (kindName.isPresent()) {
            if (placement == Placement.NONE) {
                throw new PlanException(source, path + ".surrogate_kind", "placement NONE has no surrogate; remove it or choose a placement");
            }
            SurrogateKind kind = SurrogateKinds.find(kindName.get()).orElseThrow(() -> new PlanException(source,
                    path + ".surrogate_kind", "unknown kind '" + node.get("surrogate_kind").asText() + "' (known: "
                            + String.join(", ", SurrogateKinds.names()) + ")"));
            try {
                new SurrogateParams(path, template, params).allowOnly(kind.name(), kind.usesTemplate(), kind.params());
            } catch (IllegalArgumentException e) {
                throw new PlanException(source, e.getMessage());
            }
        } else if (placement == Placement.PREFIX_FULL || placement == Placement.PREFIX_TRUNCATED
                || placement == Placement.SUFFIX) {
            throw new PlanException(source, path, "placement " + placement + " needs a surrogate (surrogate_kind or surrogate)");
        }
        Optional<String> family = text(node, path, "requires_family").or(() -> switch (placement) {
            case PREFIX_LM -> Optional.of("glm");
            case ENCODER_COENCODE, ENCODER_COENCODE_MASKED -> Optional.of("t5gemma2");
            default -> Optional.empty();
        });
        return new PlanCondition(path, name, text(node, path, "group"), placement, kindName, template, params,
                inherited(node, path, (n, p) -> enumValue(n, p, "rope_correction", RopeCorrection.class))
                        .orElse(RopeCorrection.HALF_SPLIT),
                inherited(node, path, (n, p) -> bool(n, p, "keep_bos")).orElse(true),
                inheritedText(node, path, "document_template", "{passage}"),
                inheritedText(node, path, "separator", "\n"),
                inheritedText(node, path, "query_template", "\n\nQuestion: {query}\nAnswer:"),
                inheritedText(node, path, "query_free_template", "\n\nAnswer:"),
                inheritedText(node, path, "answer_template", " {answer}"),
                bool(node, path, "query_free").orElse(false),
                inherited(node, path, (n, p) -> bool(n, p, "capture_attention")).orElse(false),
                family,
                inherited(node, path, (n, p) -> enumValue(n, p, "target", ScoreTarget.class)).orElse(ScoreTarget.ANSWER),
                documentTokens(node, path),
                crossMask(node, path, placement));
    }

    /** Only a masked co-encode condition hides anything from the decoder, so only it may choose what. */
    private CrossMask crossMask(JsonNode node, String path, Placement placement) {
        CrossMask mask = inherited(node, path, (n, p) -> enumValue(n, p, "cross_mask", CrossMask.class)).orElse(CrossMask.PREFIX);
        if (mask != CrossMask.PREFIX && placement != Placement.ENCODER_COENCODE_MASKED && node.has("cross_mask")) {
            throw new PlanException(source, path + ".cross_mask", "only placement ENCODER_COENCODE_MASKED hides encoder tokens; "
                    + "this condition's placement is " + placement);
        }
        return placement == Placement.ENCODER_COENCODE_MASKED ? mask : CrossMask.PREFIX;
    }

    private Optional<Integer> documentTokens(JsonNode node, String path) {
        return integer(node, path, "document_tokens").map(n -> {
            if (n < 1 || n > MAX_DOCUMENT_TOKENS) {
                throw new PlanException(source, path + ".document_tokens", "expected an integer from 1 to "
                        + MAX_DOCUMENT_TOKENS + ", found " + n);
            }
            return n.intValue();
        });
    }

    private void checkReferences(List<PlanCondition> conditions, Set<String> names) {
        Map<String, PlanCondition> byName = new LinkedHashMap<>();
        conditions.forEach(c -> byName.put(c.name(), c));
        for (PlanCondition c : conditions) {
            for (String ref : references(c)) {
                PlanCondition target = byName.get(ref);
                if (target == null || !target.hasSurrogate()) {
                    throw new PlanException(source, c.path() + ".of", target == null
                            ? "no condition named '" + ref + "'" : "condition '" + ref + "' has no surrogate to read");
                }
            }
        }
        // cycles: follow references from each condition; a path longer than the plan is a cycle
        for (PlanCondition c : conditions) {
            PlanCondition at = c;
            for (int steps = 0; at != null; steps++) {
                if (steps > conditions.size()) {
                    throw new PlanException(source, c.path() + ".of", "surrogate references form a cycle");
                }
                List<String> refs = references(at);
                at = refs.isEmpty() ? null : byName.get(refs.getFirst());
            }
        }
    }

    private List<String> references(PlanCondition c) {
        try {
            return c.surrogateKind().flatMap(SurrogateKinds::find)
                    .map(kind -> kind.references().apply(new SurrogateParams(c.path(), c.template(), c.params())))
                    .orElse(List.of());
        } catch (IllegalArgumentException e) {
            throw new PlanException(source, e.getMessage());
        }
    }

    private String defaultBaseline(List<PlanCondition> conditions) {
        return conditions.stream().filter(c -> c.placement() == Placement.NONE && !c.queryFree()).map(PlanCondition::name)
                .findFirst().orElseThrow(() -> new PlanException(source, "$.baseline",
                        "required: no condition with placement NONE to default to"));
    }

    private void requireCondition(Set<String> names, String path, String name) {
        if (!names.contains(name)) {
            throw new PlanException(source, path, "no condition named '" + name + "'");
        }
    }

    private List<ConditionPair> pairs(String key, Set<String> names, Set<String> signals, boolean named) {
        JsonNode list = root.get(key);
        if (list == null) {
            return List.of();
        }
        if (!list.isArray()) {
            throw new PlanException(source, "$." + key, "expected a list");
        }
        List<ConditionPair> pairs = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            String path = "$." + key + "[" + i + "]";
            JsonNode node = list.get(i);
            if (!node.isObject()) {
                throw new PlanException(source, path, "expected an object {" + (named ? "name, " : "") + "a, b}");
            }
            rejectUnknown(node, path, Set.of("name", "a", "b"));
            String a = text(node, path, "a").orElseThrow(() -> new PlanException(source, path + ".a", "required"));
            String b = text(node, path, "b").orElseThrow(() -> new PlanException(source, path + ".b", "required"));
            refuseSignal(signals, path + ".a", a);
            refuseSignal(signals, path + ".b", b);
            requireCondition(names, path + ".a", a);
            requireCondition(names, path + ".b", b);
            String name = text(node, path, "name").orElse(a + "_vs_" + b);
            if (!seen.add(name)) {
                throw new PlanException(source, path + ".name", "duplicate name '" + name + "'");
            }
            pairs.add(ConditionPair.newBuilder().setName(name).setA(a).setB(b).build());
        }
        return pairs;
    }

    private Optional<ModelRef> model() {
        return modelAt(root.get("model"), "$.model");
    }

    private Optional<ModelRef> modelAt(JsonNode node, String at) {
        if (node == null || node.isNull()) {
            return Optional.empty();
        }
        if (node.isTextual()) {
            return Optional.of(ModelRef.newBuilder().setId(node.asText()).setRevision(null).build());
        }
        if (!node.isObject()) {
            throw new PlanException(source, at, "expected {\"id\": ..., \"revision\": ...} or a model id string");
        }
        rejectUnknown(node, at, at.equals("$.model") ? Set.of("id", "revision", "pinned") : Set.of("id", "revision"));
        String id = text(node, at, "id").orElseThrow(() -> new PlanException(source, at + ".id", "required"));
        return Optional.of(ModelRef.newBuilder().setId(id).setRevision(text(node, at, "revision").orElse(null)).build());
    }

    /** {@code "model": {..., "pinned": true}}: the WorkItems name this model whatever {@code --model-dir} says. */
    private boolean modelPinned() {
        JsonNode node = root.get("model");
        return node != null && node.isObject() && bool(node, "$.model", "pinned").orElse(false);
    }

    // ---- typed field access; every error names file and JSON path

    /** A condition's own value, else the plan-level default. */
    private <T> Optional<T> inherited(JsonNode node, String path, BiFunction<JsonNode, String, Optional<T>> read) {
        return read.apply(node, path).or(() -> read.apply(root, "$"));
    }

    private String inheritedText(JsonNode node, String path, String key, String defaultValue) {
        return text(node, path, key).or(() -> text(root, "$", key)).orElse(defaultValue);
    }

    private Optional<String> text(JsonNode node, String path, String key) {
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) {
            return Optional.empty();
        }
        if (!value.isTextual()) {
            throw new PlanException(source, path + "." + key, "expected a string, found " + value);
        }
        return Optional.of(value.asText());
    }

    private Optional<Long> integer(JsonNode node, String path, String key) {
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) {
            return Optional.empty();
        }
        if (!value.isIntegralNumber() || !value.canConvertToLong()) {
            throw new PlanException(source, path + "." + key, "expected an integer, found " + value);
        }
        return Optional.of(value.asLong());
    }

    private Optional<Double> number(JsonNode node, String path, String key) {
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) {
            return Optional.empty();
        }
        if (!value.isNumber()) {
            throw new PlanException(source, path + "." + key, "expected a number, found " + value);
        }
        return Optional.of(value.asDouble());
    }

    private Optional<Boolean> bool(JsonNode node, String path, String key) {
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) {
            return Optional.empty();
        }
        if (!value.isBoolean()) {
            throw new PlanException(source, path + "." + key, "expected true or false, found " + value);
        }
        return Optional.of(value.asBoolean());
    }

    private <E extends Enum<E>> Optional<E> enumValue(JsonNode node, String path, String key, Class<E> type) {
        return text(node, path, key).map(text -> {
            try {
                return Enum.valueOf(type, text.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new PlanException(source, path + "." + key, "unknown value '" + text + "' (expected one of "
                        + Arrays.toString(type.getEnumConstants()) + ")");
            }
        });
    }

    private void rejectUnknown(JsonNode node, String path, Set<String> known) {
        node.properties().forEach(e -> {
            if (!known.contains(e.getKey())) {
                throw new PlanException(source, path + "." + e.getKey(), "unknown key");
            }
        });
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> all = new HashSet<>(a);
        all.addAll(b);
        return Set.copyOf(all);
    }
}
