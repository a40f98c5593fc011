package dkv.producers.plan;

import com.fasterxml.jackson.databind.JsonNode;
import dkv.avro.Placement;
import dkv.avro.CrossMask;
import dkv.avro.RopeCorrection;
import dkv.avro.ScoreTarget;
import java.util.Map;
import java.util.Optional;

/**
 * One condition of a plan with every default resolved: what the scorer will be told, less the surrogate
 * text, which the surrogate kind materializes per sample.
 *
 * @param path          JSON path in the plan file, for error messages
 * @param surrogateKind empty only for conditions without a surrogate
 * @param template      the condition's {@code surrogate} text, read by kinds that take a template
 * @param params        the kind's parameters
 * @param target        the scored segment: the answer (answer likelihood) or the query (query likelihood)
 * @param documentTokens build the document to this many tokens (the selected passage, then other passages)
 * @param crossMask     what ENCODER_COENCODE_MASKED hides from the decoder: the PREFIX, or the research's off-by-one
 */
public record PlanCondition(
        String path,
        String name,
        Optional<String> group,
        Placement placement,
        Optional<String> surrogateKind,
        Optional<String> template,
        Map<String, JsonNode> params,
        RopeCorrection ropeCorrection,
        boolean keepBos,
        String documentTemplate,
        String separator,
        String queryTemplate,
        String queryFreeTemplate,
        String answerTemplate,
        boolean queryFree,
        boolean captureAttention,
        Optional<String> requiresFamily,
        ScoreTarget target,
        Optional<Integer> documentTokens,
        CrossMask crossMask) {

    public boolean hasSurrogate() {
        return surrogateKind.isPresent();
    }

    /**
     * How {@code other}'s cache differs from this condition's, or null when the two build the same cache: the fields
     * that decide the document state before the query (placement, surrogate and its parameters, RoPE correction, BOS,
     * document and separator, family, document length, cross mask) are equal. Same kind and parameters give the same
     * surrogate text in a sample ({@link PlanExpander}), so equal fields mean the same cache; what is scored after it
     * (templates, target, attention) may differ.
     *
     * @return e.g. {@code "placement PREFIX_TRUNCATED vs NONE"}
     */
    public String cacheDifference(PlanCondition other) {
        Object[][] fields = {
                {"placement", placement, other.placement},
                {"surrogate_kind", surrogateKind.orElse(null), other.surrogateKind.orElse(null)},
                {"surrogate", template.orElse(null), other.template.orElse(null)},
                {"surrogate parameters", new java.util.TreeMap<>(params), new java.util.TreeMap<>(other.params)},
                {"rope_correction", ropeCorrection, other.ropeCorrection},
                {"keep_bos", keepBos, other.keepBos},
                {"document_template", documentTemplate, other.documentTemplate},
                {"separator", separator, other.separator},
                {"requires_family", requiresFamily.orElse(null), other.requiresFamily.orElse(null)},
                {"document_tokens", documentTokens.orElse(null), other.documentTokens.orElse(null)},
                {"cross_mask", crossMask, other.crossMask}};
        for (Object[] f : fields) {
            if (!java.util.Objects.equals(f[1], f[2])) {
                return f[0] + " " + show(f[1]) + " vs " + show(f[2]);
            }
        }
        return null;
    }

    private static String show(Object value) {
        return value instanceof String s ? com.fasterxml.jackson.databind.node.TextNode.valueOf(s).toString()
                : String.valueOf(value);
    }
}
