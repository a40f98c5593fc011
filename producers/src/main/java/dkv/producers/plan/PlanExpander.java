package dkv.producers.plan;

import dkv.avro.ConditionSpec;
import dkv.avro.ModelRef;
import dkv.avro.Sample;
import dkv.avro.WorkItem;
import dkv.producers.Seeds;
import dkv.producers.corpus.Corpus;
import dkv.producers.document.LongDocuments;
import dkv.producers.surrogate.GeneratorResources;
import dkv.producers.surrogate.SurrogateGenerator;
import dkv.producers.surrogate.SurrogateInput;
import dkv.producers.surrogate.SurrogateKinds;
import dkv.producers.surrogate.SurrogateParams;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Turns a plan into per-sample ConditionSpecs with materialized surrogates. Conditions whose surrogate
 * has the same kind, template and parameters share one text per sample (drawn from one random stream
 * keyed by that identity), so e.g. "irrelevant as prefix" and "irrelevant as suffix" differ only in
 * placement: the comparison between them stays paired on the same words.
 */
public final class PlanExpander {
    private final Plan plan;
    private final Corpus corpus;
    private final Map<String, SurrogateGenerator> generators = new LinkedHashMap<>();
    private final Map<String, String> identities = new HashMap<>();
    /** Conditions whose texts the generator workers only embed ({@link Plan#embeddedOnly()}). */
    private final java.util.Set<String> embeddedOnly;
    private final String planHash;
    /** Present when a condition asks for a document of a given length in tokens. */
    private final Optional<LongDocuments> longDocuments;

    PlanExpander(Plan plan, GeneratorResources resources, Corpus corpus) {
        this.plan = plan;
        this.corpus = corpus;
        this.planHash = plan.hash();
        this.embeddedOnly = java.util.Set.copyOf(plan.embeddedOnly().stream().map(PlanCondition::name).toList());
        Optional<PlanCondition> sized = plan.conditions().stream().filter(c -> c.documentTokens().isPresent()).findFirst();
        try {
            this.longDocuments = sized.map(c -> new LongDocuments(resources.tokenizer(c.path() + ".document_tokens")));
        } catch (IllegalArgumentException e) {
            throw new PlanException(plan.source(), e.getMessage());
        }
        for (PlanCondition c : plan.conditions()) {
            c.surrogateKind().ifPresent(kindName -> {
                SurrogateParams params = new SurrogateParams(c.path(), c.template(), c.params());
                try {
                    generators.put(c.name(), SurrogateKinds.find(kindName).orElseThrow().create(params, resources));
                } catch (IllegalArgumentException e) {
                    throw new PlanException(plan.source(), e.getMessage());
                }
                identities.put(c.name(), kindName + "|" + c.template().orElse("") + "|" + new TreeMap<>(c.params()));
            });
        }
    }

    public Plan plan() {
        return plan;
    }

    /** Every condition of the plan for this sample, in plan order, surrogates materialized (a plan without generated ones). */
    public List<ConditionSpec> conditionsFor(Sample sample) {
        return conditionsFor(sample, GeneratedTexts.NONE);
    }

    /**
     * The texts the producer makes itself whose query similarity the generator workers compute (by condition name, in
     * plan order): {@link Plan#embeddedOnly()} materialized for this sample; a condition without a surrogate is
     * represented by the passage.
     */
    public Map<String, String> embeddedOnlyTexts(Sample sample) {
        Map<String, String> byIdentity = new HashMap<>();
        Map<String, String> byCondition = new HashMap<>();
        Map<String, String> texts = new LinkedHashMap<>();
        for (PlanCondition c : plan.embeddedOnly()) {
            texts.put(c.name(), c.hasSurrogate() ? surrogate(c.name(), sample, byIdentity, byCondition, GeneratedTexts.NONE)
                    : sample.getPassage());
        }
        return texts;
    }

    /**
     * Every condition for this sample with the generator workers' answers joined in: generated conditions take their
     * template's text (routed: the most query-similar template's), and every condition the answers cover carries its
     * query similarity. A generated condition whose template failed fails the sample, with the worker's reason.
     */
    public List<ConditionSpec> conditionsFor(Sample sample, GeneratedTexts answers) {
        Map<String, String> byIdentity = new HashMap<>();
        Map<String, String> byCondition = new HashMap<>();
        List<ConditionSpec> specs = new ArrayList<>(plan.conditions().size());
        String longSource = longDocuments.map(docs -> docs.source(sample, maxDocumentTokens(), corpus.donors(),
                Seeds.random(plan.seed(), "long_document", sample.getId()))).orElse(null);
        String[] routed = {null};
        for (PlanCondition c : plan.conditions()) {
            String surrogate = c.hasSurrogate() ? surrogate(c.name(), sample, byIdentity, byCondition, answers) : null;
            Optional<String> template = plan.streamedTemplate(c).map(t -> !t.equals(GenerationSpec.ROUTED) ? t
                    : routed[0] != null ? routed[0] : (routed[0] = answers.routed(List.copyOf(plan.generation().orElseThrow()
                            .templates().keySet()))));
            Double similarity = template.or(() -> Optional.of(c.name()).filter(embeddedOnly::contains))
                    .flatMap(answers::similarity).orElse(null);
            String documentTemplate = c.documentTokens()
                    .map(n -> sizedTemplate(c, sample, longDocuments.orElseThrow().cut(longSource, n)))
                    .orElse(c.documentTemplate());
            specs.add(ConditionSpec.newBuilder()
                    .setName(c.name())
                    .setGroup(c.group().orElse(null))
                    .setPlacement(c.placement())
                    .setSurrogate(surrogate)
                    .setSurrogateKind(c.surrogateKind().orElse(null))
                    .setRopeCorrection(c.ropeCorrection())
                    .setKeepBos(c.keepBos())
                    .setDocumentTemplate(documentTemplate)
                    .setSeparator(c.separator())
                    .setQueryTemplate(c.queryTemplate())
                    .setQueryFreeTemplate(c.queryFreeTemplate())
                    .setAnswerTemplate(c.answerTemplate())
                    .setQueryFree(c.queryFree())
                    .setCaptureAttention(c.captureAttention())
                    .setRequiresFamily(c.requiresFamily().orElse(null))
                    .setTarget(c.target())
                    .setCrossMask(c.crossMask())
                    .setQuerySimilarity(similarity)
                    .setSurrogateTemplate(template.orElse(null))
                    .setSurrogateGenerator(template.flatMap(t -> answers.generator()).orElse(null))
                    .build());
        }
        return specs;
    }

    private int maxDocumentTokens() {
        return plan.conditions().stream().flatMap(c -> c.documentTokens().stream()).max(Integer::compare).orElseThrow();
    }

    /**
     * The condition's document template with the long document written in place of {@code {passage}}: a
     * ConditionSpec is self-describing, so each length travels as its own text. The scorer fills {@code {passage}}
     * in the template; a document holding that text itself would be filled too, and is refused.
     */
    private static String sizedTemplate(PlanCondition c, Sample sample, String document) {
        if (document.contains("{passage}")) {
            throw new IllegalStateException("condition '" + c.name() + "', sample '" + sample.getId()
                    + "': the long document contains the text {passage}, which the scorer would replace");
        }
        return c.documentTemplate().replace("{passage}", document);
    }

    /** The WorkItem for this sample (key: {@code Topics.workKey(experimentId, sample id)}). */
    public WorkItem workItem(Sample sample, ModelRef model, long plannedSamples, long producedAtMillis) {
        return workItem(sample, model, plannedSamples, producedAtMillis, GeneratedTexts.NONE);
    }

    /** The WorkItem for this sample with the generator workers' answers joined in. */
    public WorkItem workItem(Sample sample, ModelRef model, long plannedSamples, long producedAtMillis, GeneratedTexts answers) {
        return WorkItem.newBuilder()
                .setExperimentId(plan.experimentId())
                .setPlanHash(planHash)
                .setModel(model)
                .setSample(sample)
                .setConditions(conditionsFor(sample, answers))
                .setMeta(plan.meta(plannedSamples))
                .setProducedAt(producedAtMillis)
                .build();
    }

    private String surrogate(String condition, Sample sample, Map<String, String> byIdentity, Map<String, String> byCondition,
            GeneratedTexts answers) {
        String cached = byCondition.get(condition);
        if (cached != null) {
            return cached;
        }
        String identity = identities.get(condition);
        String text = byIdentity.get(identity);
        if (text == null) {
            SurrogateInput input = answers == GeneratedTexts.NONE
                    ? new SurrogateInput(sample, Seeds.random(plan.seed(), "surrogate", sample.getId(), identity), corpus,
                            other -> surrogate(other, sample, byIdentity, byCondition, answers))
                    : new SurrogateInput(sample, Seeds.random(plan.seed(), "surrogate", sample.getId(), identity), corpus,
                            other -> surrogate(other, sample, byIdentity, byCondition, answers), template -> template.equals(
                                    GenerationSpec.ROUTED) ? answers.text(answers.routed(List.copyOf(plan.generation()
                                            .orElseThrow().templates().keySet()))) : answers.text(template));
            try {
                text = generators.get(condition).generate(input);
            } catch (RuntimeException e) {
                throw new IllegalStateException("condition '" + condition + "', sample '" + sample.getId() + "': "
                        + e.getMessage(), e);
            }
            byIdentity.put(identity, text);
        }
        byCondition.put(condition, text);
        return text;
    }
}
