package dkv.scorers.model;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.util.ArrayList;
import java.util.List;

/**
 * A KV cache that grows in place (generation): per layer storage of {@code capacity} entries allocated once, new
 * entries copied into the next free slots, and {@link #view()} a {@link KvCache} of the filled part without a copy.
 * Appending never copies the past, so a step costs its own entries, not the whole history.
 */
public final class KvCacheBuffer implements AutoCloseable {

    private final List<Tensor> keys;
    private final List<Tensor> values;
    private final int capacity;
    private Positions positions = Positions.empty();

    private KvCacheBuffer(List<Tensor> keys, List<Tensor> values, int capacity) {
        this.keys = keys;
        this.values = values;
        this.capacity = capacity;
    }

    /** Room for {@code capacity} entries of {@code layers} layers, [1, kvHeads, capacity, headDim] each. */
    public static KvCacheBuffer allocate(int layers, long kvHeads, int capacity, long headDim, DType dtype, Device device) {
        List<Tensor> k = new ArrayList<>(layers);
        List<Tensor> v = new ArrayList<>(layers);
        for (int l = 0; l < layers; l++) {
            k.add(Tensors.empty(dtype, device, 1, kvHeads, capacity, headDim));
            v.add(Tensors.empty(dtype, device, 1, kvHeads, capacity, headDim));
        }
        return new KvCacheBuffer(k, v, capacity);
    }

    public int length() {
        return positions.size();
    }

    public int capacity() {
        return capacity;
    }

    /** Copies {@code entries} (e.g. the new part of a forward's cache) after the filled part. */
    public void append(KvCache entries) {
        int n = entries.length();
        if (n == 0) return;
        if (entries.layers() != keys.size()) {
            throw new IllegalArgumentException("appending " + entries.layers() + " layers to a buffer of " + keys.size());
        }
        if (length() + n > capacity) {
            throw new IllegalArgumentException("cache buffer of " + capacity + " entries cannot take " + n + " more after " + length());
        }
        try (TensorScope _ = TensorScope.open()) {
            for (int l = 0; l < keys.size(); l++) {
                Ops.copyInto(Ops.narrow(keys.get(l), 2, length(), n), entries.keys(l));
                Ops.copyInto(Ops.narrow(values.get(l), 2, length(), n), entries.values(l));
            }
        }
        positions = positions.concat(entries.positions());
    }

    /** The filled entries as views of the storage (valid while this buffer is open). */
    public KvCache view() {
        List<Tensor> k = new ArrayList<>(keys.size());
        List<Tensor> v = new ArrayList<>(values.size());
        for (int l = 0; l < keys.size(); l++) {
            k.add(Ops.narrow(keys.get(l), 2, 0, length()));
            v.add(Ops.narrow(values.get(l), 2, 0, length()));
        }
        return new KvCache(k, v, positions);
    }

    @Override
    public void close() {
        keys.forEach(Tensor::close);
        values.forEach(Tensor::close);
    }
}
