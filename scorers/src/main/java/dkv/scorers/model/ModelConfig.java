package dkv.scorers.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The shape of a decoder-only transformer as HF {@code config.json} describes it. Every size the model code
 * uses comes from here; nothing is hard-coded.
 *
 * @param modelType      HF {@code model_type} (llama, mistral, qwen2, ...)
 * @param architectures  HF {@code architectures} (e.g. LlamaForCausalLM)
 * @param headDim        per-head width: {@code head_dim} when given, else hidden / heads
 * @param slidingWindow  attention window, or 0 when every position sees the whole context
 */
public record ModelConfig(
        String modelType,
        List<String> architectures,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        double rmsNormEps,
        double ropeTheta,
        RopeScaling ropeScaling,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        boolean mlpBias,
        String hiddenAct,
        int slidingWindow,
        int maxPositionEmbeddings) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public ModelConfig {
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads " + numHeads
                    + " is not a multiple of num_key_value_heads " + numKvHeads);
        }
        if (headDim % 2 != 0) throw new IllegalArgumentException("head_dim " + headDim + " is odd; RoPE needs pairs");
    }

    /** Query heads sharing one key/value head (grouped-query attention). */
    public int kvGroups() {
        return numHeads / numKvHeads;
    }

    /** RoPE inverse frequencies of this model (float32, scaling applied). */
    public float[] inverseFrequencies() {
        return ropeScaling.inverseFrequencies(ropeTheta, headDim);
    }

    /** Reads {@code config.json} of an HF snapshot directory; errors name the file and the field. */
    public static ModelConfig read(Path configJson) {
        JsonNode c;
        try {
            c = JSON.readTree(Files.readString(configJson));
        } catch (IOException e) {
            throw new IllegalArgumentException(configJson + ": cannot read config.json: " + e.getMessage(), e);
        }
        Fields f = new Fields(configJson, c);
        int hidden = f.integer("hidden_size");
        int heads = f.integer("num_attention_heads");
        int headDim = c.hasNonNull("head_dim") ? f.integer("head_dim") : hidden / heads;
        RopeParameters rope = RopeParameters.of(f, c);
        boolean slidingUsed = !c.has("use_sliding_window") || c.get("use_sliding_window").asBoolean(false);
        int window = slidingUsed && c.hasNonNull("sliding_window") ? f.integer("sliding_window") : 0;
        return new ModelConfig(
                f.text("model_type", ""),
                c.has("architectures") ? JSON.convertValue(c.get("architectures"), JSON.getTypeFactory()
                        .constructCollectionType(List.class, String.class)) : List.of(),
                f.integer("vocab_size"),
                hidden,
                f.integer("intermediate_size"),
                f.integer("num_hidden_layers"),
                heads,
                c.hasNonNull("num_key_value_heads") ? f.integer("num_key_value_heads") : heads,
                headDim,
                c.hasNonNull("rms_norm_eps") ? f.number("rms_norm_eps") : 1e-6,
                rope.theta(),
                rope.scaling(),
                c.has("tie_word_embeddings") && c.get("tie_word_embeddings").asBoolean(),
                c.has("attention_bias") && c.get("attention_bias").asBoolean(),
                c.has("mlp_bias") && c.get("mlp_bias").asBoolean(),
                f.text("hidden_act", "silu"),
                window,
                c.hasNonNull("max_position_embeddings") ? f.integer("max_position_embeddings") : 0);
    }

    /** RoPE settings from either form: {@code rope_parameters} (newer) or top-level {@code rope_theta} + {@code rope_scaling}. */
    private record RopeParameters(double theta, RopeScaling scaling) {
        static RopeParameters of(Fields f, JsonNode c) {
            JsonNode p = c.hasNonNull("rope_parameters") ? c.get("rope_parameters")
                    : c.hasNonNull("rope_scaling") ? c.get("rope_scaling") : null;
            String where = c.hasNonNull("rope_parameters") ? "rope_parameters" : "rope_scaling";
            double theta = p != null && p.hasNonNull("rope_theta") ? p.get("rope_theta").asDouble()
                    : c.hasNonNull("rope_theta") ? f.number("rope_theta") : 10_000.0;
            double partial = p != null && p.hasNonNull("partial_rotary_factor") ? p.get("partial_rotary_factor").asDouble()
                    : c.hasNonNull("partial_rotary_factor") ? f.number("partial_rotary_factor") : 1.0;
            if (partial != 1.0) {
                throw new IllegalArgumentException(f.file() + ": partial_rotary_factor " + partial
                        + " is not supported by the Llama family (full rotary only)");
            }
            if (p == null) return new RopeParameters(theta, new RopeScaling.Default());
            String type = p.hasNonNull("rope_type") ? p.get("rope_type").asText()
                    : p.hasNonNull("type") ? p.get("type").asText() : "default";
            Fields rp = new Fields(f.file(), p, where + ".");
            RopeScaling scaling = switch (type) {
                case "default" -> new RopeScaling.Default();
                case "linear" -> new RopeScaling.Linear(rp.number("factor"));
                case "llama3" -> new RopeScaling.Llama3(rp.number("factor"), rp.number("low_freq_factor"),
                        rp.number("high_freq_factor"),
                        p.hasNonNull("original_max_position_embeddings") ? rp.integer("original_max_position_embeddings")
                                : c.hasNonNull("original_max_position_embeddings") ? f.integer("original_max_position_embeddings")
                                : f.integer("max_position_embeddings"));
                default -> throw new IllegalArgumentException(f.file() + ": " + where + ".rope_type '" + type
                        + "' is not supported (supported: default, linear, llama3)");
            };
            return new RopeParameters(theta, scaling);
        }
    }

    /** Typed access to required fields with errors that name the file and the field. */
    private record Fields(Path file, JsonNode node, String prefix) {
        Fields(Path file, JsonNode node) {
            this(file, node, "");
        }

        JsonNode required(String name) {
            JsonNode v = node.get(name);
            if (v == null || v.isNull()) throw new IllegalArgumentException(file + ": missing field " + prefix + name);
            return v;
        }

        int integer(String name) {
            JsonNode v = required(name);
            if (!v.canConvertToExactIntegral() || !v.canConvertToInt()) {
                throw new IllegalArgumentException(file + ": field " + prefix + name + " is not an integer: " + v);
            }
            return v.asInt();
        }

        double number(String name) {
            JsonNode v = required(name);
            if (!v.isNumber()) throw new IllegalArgumentException(file + ": field " + prefix + name + " is not a number: " + v);
            return v.asDouble();
        }

        String text(String name, String fallback) {
            JsonNode v = node.get(name);
            return v == null || v.isNull() ? fallback : v.asText();
        }
    }
}
