package dkv.scorers.model;

import java.util.List;

/**
 * An encoder-decoder language model (T5Gemma 2): a bidirectional encoder run once per distinct encoder input, whose
 * {@link EncoderMemory} serves every decoder that reads it. Decoder requests carry their memory and which encoder
 * tokens they may see ({@link ForwardRequest#cross()}).
 */
public non-sealed interface Seq2SeqLm extends LoadedModel, Decoder {

    @Override
    default dkv.scorers.recipe.ModelShape shape() {
        return dkv.scorers.recipe.ModelShape.ENCODER_DECODER;
    }

    /** One memory per input (token ids incl. BOS), each owned by the caller; inputs run as padded batches. */
    List<EncoderMemory> encode(List<int[]> inputs);

    /** The token the decoder stream starts with (the decoder's BOS). */
    int decoderStartToken();
}
