package dkv.producers.plan;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.avro.GenerationSettings;
import dkv.avro.ModelRef;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Optional;
import java.util.SequencedMap;

/**
 * A plan's {@code generation} block: which instruction model writes its generated surrogates, from which named prompt
 * templates, how it decodes, and which embedding model the generator workers compare surrogates and queries with.
 * Conditions use it with {@code "surrogate_kind": "generated", "template": NAME} ({@link #ROUTED}: the template whose
 * surrogate is most similar to the real query), and every member of a {@code routed} derived condition gets its query
 * similarity through the generator workers.
 *
 * @param model     the generator model; empty when the plan only needs similarities (no generated conditions)
 * @param templates by name, in order (the order breaks routing ties)
 * @param embedder  the embedding model id the plan asks for; empty = whichever the workers have
 */
public record GenerationSpec(Optional<ModelRef> model, SequencedMap<String, String> templates, int maxNewTokens,
        double temperature, double topP, int topK, long seed, boolean firstLine, boolean stripQuotes, Optional<String> embedder) {

    /** The pseudo-template that picks, per sample, the template with the highest query similarity. */
    public static final String ROUTED = "routed";

    public GenerationSpec {
        templates = Collections.unmodifiableSequencedMap(new LinkedHashMap<>(templates));
    }

    /** What travels to the generator workers in every request. */
    public GenerationSettings settings() {
        return GenerationSettings.newBuilder().setMaxNewTokens(maxNewTokens).setTemperature(temperature).setTopP(topP)
                .setTopK(topK).setSeed(seed).setFirstLine(firstLine).setStripQuotes(stripQuotes).build();
    }

    /** The canonical form (every default written out) for the plan hash. */
    void writeTo(ObjectNode node) {
        model.ifPresent(m -> node.putObject("model").put("id", m.getId()).put("revision", m.getRevision()));
        ObjectNode t = node.putObject("templates");
        templates.forEach(t::put);
        node.putArray("template_order").addAll(templates.keySet().stream()
                .map(com.fasterxml.jackson.databind.node.TextNode::valueOf).toList());
        node.put("max_new_tokens", maxNewTokens).put("temperature", temperature).put("top_p", topP).put("top_k", topK)
                .put("seed", seed).put("first_line", firstLine).put("strip_quotes", stripQuotes);
        embedder.ifPresent(e -> node.put("embedder", e));
    }
}
