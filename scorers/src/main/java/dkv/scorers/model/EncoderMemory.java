package dkv.scorers.model;

import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * An encoder's output as the decoder reads it: per decoder layer the cross-attention keys and values
 * [1, kvHeads, length, headDim] of the encoder tokens. Unpositioned (cross keys carry no RoPE), so one memory serves
 * every condition of a document, and hiding tokens from a decoder is a mask ({@link ForwardRequest.Cross}), never a
 * correction. Closing closes its handles; views share storage.
 */
public final class EncoderMemory implements AutoCloseable {

    private final List<Tensor> keys;
    private final List<Tensor> values;
    private final int length;

    public EncoderMemory(List<Tensor> keys, List<Tensor> values) {
        if (keys.isEmpty() || keys.size() != values.size()) throw new IllegalArgumentException("keys and values per decoder layer");
        this.length = Math.toIntExact(keys.getFirst().size(2));
        for (int l = 0; l < keys.size(); l++) {
            if (keys.get(l).size(2) != length || values.get(l).size(2) != length) {
                throw new IllegalArgumentException("decoder layer " + l + " memory is not " + length + " tokens long");
            }
        }
        this.keys = List.copyOf(keys);
        this.values = List.copyOf(values);
    }

    /** Encoder tokens. */
    public int length() {
        return length;
    }

    public int layers() {
        return keys.size();
    }

    public Tensor keys(int layer) {
        return keys.get(layer);
    }

    public Tensor values(int layer) {
        return values.get(layer);
    }

    /** Another handle on the same storage (for a second owner). */
    public EncoderMemory share() {
        List<Tensor> k = new ArrayList<>(keys.size());
        List<Tensor> v = new ArrayList<>(values.size());
        for (int l = 0; l < keys.size(); l++) {
            k.add(Ops.alias(keys.get(l)));
            v.add(Ops.alias(values.get(l)));
        }
        return new EncoderMemory(k, v);
    }

    @Override
    public void close() {
        keys.forEach(Tensor::close);
        values.forEach(Tensor::close);
    }

    @Override
    public String toString() {
        return "EncoderMemory[" + layers() + " layers x " + length + " tokens]";
    }
}
