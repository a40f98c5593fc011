package dkv.scorers.model;

import dkv.scorers.recipe.ModelShape;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;

/**
 * A model loaded by {@link ModelFamilies#load}, of one of three kinds, each with the forwards it really has: a
 * decoder-only {@link CausalLm}, an encoder-decoder {@link Seq2SeqLm} (encode once, decode many times against an
 * encoder memory), or a {@link TextEncoder} (sentence embeddings). See docs/architecture.md, "Model kinds".
 */
public sealed interface LoadedModel extends AutoCloseable permits CausalLm, Seq2SeqLm, TextEncoder {

    /** Family name from the registry (e.g. {@code llama}); what a condition's {@code requires_family} names. */
    String family();

    ModelSnapshot snapshot();

    /** The tokenizer that turns a condition's segment texts into token layouts. */
    LayoutTokenizer tokenizer();

    /** What the placements mean for this model's token streams. */
    ModelShape shape();

    Device device();

    DType dtype();

    @Override
    void close();
}
