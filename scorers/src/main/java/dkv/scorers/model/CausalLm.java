package dkv.scorers.model;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;

/** A decoder-only language model with an explicit KV cache, loaded by {@link ModelFamilies#load}. */
public interface CausalLm extends AutoCloseable {

    /** Family name from the registry (e.g. {@code llama}). */
    String family();

    ModelSnapshot snapshot();

    default ModelConfig config() {
        return snapshot().config();
    }

    SegmentTokenizer tokenizer();

    Device device();

    DType dtype();

    /** The model's rotary embedding (its own pairing), for cache re-rotation. */
    Rope rope();

    /** Runs new tokens through every layer, attending to {@code request.past()} and to each other. */
    ForwardResult forward(ForwardRequest request);

    /**
     * Several independent sequences in one pass (padded to the longest); result i belongs to request i and
     * equals {@code forward(requests.get(i))} up to float rounding. Causal masks only when more than one.
     */
    java.util.List<ForwardResult> forwardBatch(java.util.List<ForwardRequest> requests);

    @Override
    void close();
}
