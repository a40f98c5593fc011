package dkv.scorers.model.bert;

import dkv.scorers.model.ConfigFields;
import java.util.List;

/**
 * The BERT family's typed {@code config.json} (HF {@code BertConfig}): every size the encoder uses comes from here.
 * What this encoder cannot run is refused with the file and the field named: relative position embeddings, a
 * BERT configured as a (causal) decoder, and activations other than the exact GELU.
 *
 * @param maxPositions  rows of the absolute position table ({@code max_position_embeddings}): no input may be longer
 * @param typeVocabSize rows of the token-type table (every input here is one segment, type 0)
 */
public record BertConfig(
        String modelType,
        List<String> architectures,
        int vocabSize,
        int hiddenSize,
        int numLayers,
        int numHeads,
        int intermediateSize,
        int maxPositions,
        int typeVocabSize,
        double layerNormEps) {

    public BertConfig {
        if (numHeads <= 0 || hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException("hidden_size " + hiddenSize + " is not a multiple of num_attention_heads " + numHeads);
        }
        if (typeVocabSize < 1) throw new IllegalArgumentException("type_vocab_size " + typeVocabSize + " leaves no token type 0");
    }

    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** Reads a snapshot's {@code config.json}; errors name the file and the field. */
    public static BertConfig read(ConfigFields f) {
        String act = f.text("hidden_act", "gelu");
        if (!act.equals("gelu")) throw f.unsupported("hidden_act", act, "gelu, the exact erf form");
        String positions = f.text("position_embedding_type", "absolute");
        if (!positions.equals("absolute")) throw f.unsupported("position_embedding_type", positions, "absolute");
        if (f.bool("is_decoder", false)) throw f.unsupported("is_decoder", true, "a bidirectional encoder");
        return new BertConfig(
                f.text("model_type", ""),
                f.texts("architectures"),
                f.integer("vocab_size"),
                f.integer("hidden_size"),
                f.integer("num_hidden_layers"),
                f.integer("num_attention_heads"),
                f.integer("intermediate_size"),
                f.integer("max_position_embeddings"),
                f.integer("type_vocab_size", 2),
                f.number("layer_norm_eps", 1e-12));
    }
}
