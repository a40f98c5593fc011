package dkv.scorers.model;

/** A decoder-only language model with an explicit KV cache (Llama family, Gemma 3, GLM's prefix LM). */
public non-sealed interface CausalLm extends LoadedModel, Decoder {

    @Override
    default dkv.scorers.recipe.ModelShape shape() {
        return dkv.scorers.recipe.ModelShape.DECODER;
    }

    /** Layers, i.e. entries of every cache's per-layer lists. */
    int layers();

    /**
     * The rotary embedding of {@code layer}'s keys (its own pairing and frequencies), for cache re-rotation. Models
     * with per-layer-type RoPE tables (Gemma 3) return different ones for different layers.
     */
    Rope rope(int layer);
}
