package dkv.scorers.model.glm;

import dkv.scorers.model.ConfigFields;
import java.util.List;

/**
 * ChatGLM-6B's typed {@code config.json} (THUDM/chatglm-6b, first version: {@code model_type: chatglm},
 * {@code ChatGLMModel}), read by {@link GlmFamily} only, with the field names of the published
 * {@code configuration_chatglm.py}. Errors name the file and the field.
 *
 * @param sopTokenId  {@code bos_token_id}: ChatGLM's {@code <sop>}, which starts the generated part
 * @param eopTokenId  {@code eos_token_id}: {@code <eop>}, or -1 when absent
 * @param maskTokenId {@code mask_token_id}: {@code [MASK]}, or -1 when absent
 */
public record GlmConfig(
        String modelType,
        List<String> architectures,
        int vocabSize,
        int hiddenSize,
        int innerHiddenSize,
        int numLayers,
        int numHeads,
        double layernormEpsilon,
        int maxSequenceLength,
        int gmaskTokenId,
        int sopTokenId,
        int eopTokenId,
        int maskTokenId) {

    /** RotaryEmbedding's base in the published code (not a config field). */
    public static final double ROPE_BASE = 10_000.0;

    /**
     * The residual scale: {@code GLMBlock} computes {@code alpha = (2 * num_layers) ** 0.5} with its own
     * {@code num_layers=28} default, which {@code ChatGLMModel} never overrides, so it is √56 whatever the config's
     * {@code num_layers} (confirmed by instantiating the published class with 3 layers; ops/reference/README.md).
     */
    public static final double ALPHA = Math.sqrt(2 * 28);

    public int headDim() {
        return hiddenSize / numHeads;
    }

    /**
     * 2D RoPE's inverse frequencies, shared by both channels: {@code RotaryEmbedding(head_dim / 2)} computes
     * {@code 1 / base^(arange(0, dim, 2) / dim)} in float32 and then {@code inv_freq.half()}, so the model runs on
     * fp16-rounded frequencies (its {@code _load_from_state_dict} ignores the checkpoint's buffers).
     */
    public float[] inverseFrequencies() {
        int dim = headDim() / 2;
        float[] f = new float[dim / 2];
        for (int j = 0; j < f.length; j++) {
            float exponent = (float) (2 * j) / dim;
            float exact = 1f / (float) Math.pow((float) ROPE_BASE, exponent);
            f[j] = Float.float16ToFloat(Float.floatToFloat16(exact));
        }
        return f;
    }

    /** Reads a snapshot's {@code config.json}; ChatGLM2/3, quantized and p-tuned variants are refused by field. */
    public static GlmConfig read(ConfigFields f) {
        // ChatGLM2/3 share model_type chatglm but are another architecture (RMSNorm, multi-query attention, 1D RoPE)
        for (String v2Field : new String[] {"multi_query_attention", "padded_vocab_size", "rmsnorm"}) {
            if (f.has(v2Field)) {
                throw f.unsupported(v2Field, f.required(v2Field), "a ChatGLM2/3 field; the glm family implements ChatGLM-6B v1");
            }
        }
        if (f.integer("quantization_bit", 0) != 0) {
            throw f.unsupported("quantization_bit", f.integer("quantization_bit"), "quantized checkpoints are not read; use the fp16 one");
        }
        if (f.has("pre_seq_len")) throw f.unsupported("pre_seq_len", f.required("pre_seq_len"), "no P-tuning prefix encoder");
        if (!f.bool("position_encoding_2d", true)) {
            throw f.unsupported("position_encoding_2d", false, "ChatGLM-6B's 2D positions only");
        }
        int hidden = f.integer("hidden_size");
        int heads = f.integer("num_attention_heads");
        if (hidden % heads != 0 || (hidden / heads) % 4 != 0) {
            throw f.unsupported("num_attention_heads", heads, "hidden_size " + hidden
                    + " must split into heads whose width is a multiple of 4 (two RoPE channels of pairs)");
        }
        return new GlmConfig(
                f.text("model_type", ""),
                f.texts("architectures"),
                f.integer("vocab_size"),
                hidden,
                f.integer("inner_hidden_size"),
                f.integer("num_layers"),
                heads,
                f.number("layernorm_epsilon", 1e-5),
                f.integer("max_sequence_length", 2048),
                f.integer("gmask_token_id"),
                f.integer("bos_token_id"),
                f.integer("eos_token_id", -1),
                f.integer("mask_token_id", -1));
    }
}
