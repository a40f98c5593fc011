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
}
