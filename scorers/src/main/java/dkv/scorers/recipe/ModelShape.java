package dkv.scorers.recipe;

/**
 * The shape of a model's token streams, which decides what each placement means (docs/architecture.md "Recipes"):
 * one causal stream (Llama, Gemma 3), one stream with a bidirectional prompt (GLM's prefix LM), or an encoder stream
 * and a decoder stream (T5Gemma 2); a sentence encoder (BERT) embeds one bidirectional stream and scores nothing.
 */
public enum ModelShape {
    DECODER,
    PREFIX_LM,
    ENCODER_DECODER,
    ENCODER
}
