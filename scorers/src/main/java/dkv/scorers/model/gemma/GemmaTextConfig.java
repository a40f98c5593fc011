package dkv.scorers.model.gemma;

import dkv.scorers.model.ConfigFields;
import dkv.scorers.model.RopeScaling;
import dkv.scorers.model.Window;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The text keys of one Gemma-3-style stack (ops/reference/T5GEMMA2-FACTS.md §1): Gemma 3's {@code config.json} (or its
 * {@code text_config}), and each of T5Gemma 2's {@code encoder.text_config} and {@code decoder}, which are read
 * separately because their windows, layer types and RoPE differ. Fields a hub config may leave out get
 * {@code Gemma3TextConfig}'s defaults (the Gemma-3-12B-IT {@code text_config} names neither {@code vocab_size} nor
 * {@code head_dim}); the sizes the weights depend on are required.
 *
 * @param layerTypes             each layer's attention type
 * @param ropes                  each used layer type's RoPE base and scaling
 * @param slidingWindow          W of the sliding layers
 * @param queryPreAttnScalar     the attention scale is its {@code -0.5} power (not head_dim's)
 * @param finalLogitSoftcapping  {@code cap·tanh(logits/cap)} on the LM logits; 0 = none
 */
public record GemmaTextConfig(
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numHeads,
        int numKvHeads,
        int headDim,
        double rmsNormEps,
        double queryPreAttnScalar,
        int slidingWindow,
        List<LayerType> layerTypes,
        Map<LayerType, LayerRope> ropes,
        double finalLogitSoftcapping,
        boolean tieWordEmbeddings) {

    /** HF's {@code layer_types} values. */
    public enum LayerType {
        SLIDING("sliding_attention"),
        FULL("full_attention");

        final String configName;

        LayerType(String configName) {
            this.configName = configName;
        }

        static LayerType of(String name) {
            for (LayerType t : values()) if (t.configName.equals(name)) return t;
            return null;
        }
    }

    /** One layer type's RoPE: {@code inv_freq = 1/θ^(2j/d)}, then the type's scaling (linear for Gemma's full layers). */
    public record LayerRope(double theta, RopeScaling scaling) {
        public float[] inverseFrequencies(int headDim) {
            return scaling.inverseFrequencies(theta, headDim);
        }
    }

    public GemmaTextConfig {
        layerTypes = List.copyOf(layerTypes);
        ropes = Map.copyOf(ropes);
    }

    public int layers() {
        return layerTypes.size();
    }

    /** Layer {@code l}'s window: sliding layers {@code causal(W)} in a decoder, {@code bidirectional(W)} in an encoder. */
    public Window window(int layer, boolean bidirectional) {
        if (layerTypes.get(layer) == LayerType.FULL) return Window.NONE;
        return bidirectional ? Window.bidirectional(slidingWindow) : Window.causal(slidingWindow);
    }

    /** Reads one stack's text keys; errors name the file and the field's path. */
    public static GemmaTextConfig read(ConfigFields f) {
        String activation = f.text("hidden_activation", f.text("hidden_act", "gelu_pytorch_tanh"));
        if (!activation.equals("gelu_pytorch_tanh")) {
            throw f.unsupported("hidden_activation", "'" + activation + "'", "Gemma's GeGLU uses gelu_pytorch_tanh");
        }
        if (f.bool("attention_bias", false)) throw f.unsupported("attention_bias", true, "Gemma projections have no bias");
        // HF rewrites the window to W//2+1 and drops causality then: a different model from the one the fixtures pin
        if (f.bool("use_bidirectional_attention", false)) {
            throw f.unsupported("use_bidirectional_attention", true, "causal Gemma 3 only");
        }
        int heads = f.integer("num_attention_heads");
        int kvHeads = f.integer("num_key_value_heads", heads);
        if (heads % kvHeads != 0) {
            throw f.unsupported("num_key_value_heads", kvHeads, "a divisor of num_attention_heads " + heads);
        }
        int headDim = f.integer("head_dim", 256);
        if (headDim % 2 != 0) throw f.unsupported("head_dim", headDim, "RoPE needs an even head_dim");
        List<LayerType> types = layerTypes(f);
        int window = f.integer("sliding_window", 4096);
        if (types.contains(LayerType.SLIDING) && window < 1) {
            throw f.unsupported("sliding_window", window, "a positive window for the sliding layers");
        }
        return new GemmaTextConfig(
                f.integer("vocab_size", 262_208),
                f.integer("hidden_size"),
                f.integer("intermediate_size"),
                heads,
                kvHeads,
                headDim,
                f.number("rms_norm_eps", 1e-6),
                f.number("query_pre_attn_scalar", 256),
                window,
                types,
                ropes(f, types),
                // attn_logit_softcapping is never applied by HF 5.17 (neither attention class passes it): ignored alike
                f.number("final_logit_softcapping", 0),
                f.bool("tie_word_embeddings", true));
    }

    /**
     * {@code layer_types}, or (older configs) derived from {@code sliding_window_pattern} (default 6): layer i is full
     * iff {@code (i+1) % pattern == 0}. {@code _sliding_window_pattern} is not read by HF and not here.
     */
    private static List<LayerType> layerTypes(ConfigFields f) {
        int n = f.integer("num_hidden_layers");
        List<LayerType> types = new ArrayList<>(n);
        if (f.has("layer_types")) {
            List<String> names = f.texts("layer_types");
            if (names.size() != n) throw f.unsupported("layer_types", names.size() + " entries", "one per layer: " + n);
            for (int i = 0; i < n; i++) {
                LayerType t = LayerType.of(names.get(i));
                if (t == null) {
                    throw f.unsupported("layer_types[" + i + "]", "'" + names.get(i) + "'", "sliding_attention, full_attention");
                }
                types.add(t);
            }
            return types;
        }
        int pattern = f.integer("sliding_window_pattern", 6);
        if (pattern < 1) throw f.unsupported("sliding_window_pattern", pattern, "a positive period");
        for (int i = 0; i < n; i++) types.add((i + 1) % pattern == 0 ? LayerType.FULL : LayerType.SLIDING);
        return types;
    }

    /**
     * Per-type RoPE from either form: {@code rope_parameters} with one entry per layer type (5.x), or the hub's
     * legacy keys: {@code rope_theta} (full layers, default 1e6) with {@code rope_scaling} merged into the full layers'
     * entry only, and {@code rope_local_base_freq} (sliding layers, default 1e4, unscaled).
     */
    private static Map<LayerType, LayerRope> ropes(ConfigFields f, List<LayerType> types) {
        Map<LayerType, LayerRope> out = new EnumMap<>(LayerType.class);
        if (f.has("rope_parameters")) {
            ConfigFields p = f.object("rope_parameters");
            for (LayerType t : types) {
                if (out.containsKey(t)) continue;
                // p.object names the missing entry, e.g. rope_parameters.full_attention
                ConfigFields entry = p.object(t.configName);
                out.put(t, new LayerRope(entry.number("rope_theta"), RopeScaling.read(entry, f)));
            }
            return out;
        }
        RopeScaling fullScaling = f.has("rope_scaling") ? RopeScaling.read(f.object("rope_scaling"), f) : new RopeScaling.Default();
        out.put(LayerType.FULL, new LayerRope(f.number("rope_theta", 1_000_000.0), fullScaling));
        out.put(LayerType.SLIDING, new LayerRope(f.number("rope_local_base_freq", 10_000.0), new RopeScaling.Default()));
        return out;
    }
}
