package dkv.scorers.model;

import java.util.List;

/**
 * The Llama family's typed {@code config.json} (Llama, Mistral, Qwen2): every size the model code uses comes from
 * here; nothing is hard-coded. Parsed by {@link LlamaFamily} only: other families read their own configs.
 *
 * @param modelType      HF {@code model_type} (llama, mistral, qwen2, ...)
 * @param architectures  HF {@code architectures} (e.g. LlamaForCausalLM)
 * @param headDim        per-head width: {@code head_dim} when given, else hidden / heads
 * @param slidingWindow  attention window, or 0 when every position sees the whole context
 */
public record LlamaConfig(
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

    public LlamaConfig {
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

    /** Reads a snapshot's {@code config.json}; errors name the file and the field. */
    public static LlamaConfig read(ConfigFields f) {
        int hidden = f.integer("hidden_size");
        int heads = f.integer("num_attention_heads");
        int headDim = f.integer("head_dim", hidden / heads);
        RopeParameters rope = RopeParameters.of(f);
        boolean slidingUsed = f.bool("use_sliding_window", true);
        int window = slidingUsed ? f.integer("sliding_window", 0) : 0;
        return new LlamaConfig(
                f.text("model_type", ""),
                f.texts("architectures"),
                f.integer("vocab_size"),
                hidden,
                f.integer("intermediate_size"),
                f.integer("num_hidden_layers"),
                heads,
                f.integer("num_key_value_heads", heads),
                headDim,
                f.number("rms_norm_eps", 1e-6),
                rope.theta(),
                rope.scaling(),
                f.bool("tie_word_embeddings", false),
                f.bool("attention_bias", false),
                f.bool("mlp_bias", false),
                f.text("hidden_act", "silu"),
                window,
                f.integer("max_position_embeddings", 0));
    }

    /** RoPE settings from either form: {@code rope_parameters} (newer) or top-level {@code rope_theta} + {@code rope_scaling}. */
    private record RopeParameters(double theta, RopeScaling scaling) {
        static RopeParameters of(ConfigFields c) {
            String where = c.has("rope_parameters") ? "rope_parameters" : c.has("rope_scaling") ? "rope_scaling" : null;
            ConfigFields p = where == null ? null : c.object(where);
            double theta = p != null && p.has("rope_theta") ? p.number("rope_theta") : c.number("rope_theta", 10_000.0);
            double partial = p != null && p.has("partial_rotary_factor") ? p.number("partial_rotary_factor")
                    : c.number("partial_rotary_factor", 1.0);
            if (partial != 1.0) throw c.unsupported("partial_rotary_factor", partial, "the Llama family rotates full heads");
            if (p == null) return new RopeParameters(theta, new RopeScaling.Default());
            return new RopeParameters(theta, RopeScaling.read(p, c));
        }
    }
}
