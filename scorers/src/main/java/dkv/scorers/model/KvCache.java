package dkv.scorers.model;

import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * An explicit, inspectable KV cache: per layer the keys and values [1, kvHeads, length, headDim] and, per
 * entry, the {@link Positions} its key was rotated to (2D for GLM). Views ({@link #view}) share storage; {@link #concat} copies.
 * Closing closes its tensor handles (views of another cache leave that cache's storage alive).
 */
public final class KvCache implements AutoCloseable {

    private final List<Tensor> keys;
    private final List<Tensor> values;
    private final Positions positions;
    /** The {@link KvCacheBuffer} row this cache views whole, or null: lets a forward append in place. */
    private final KvCacheBuffer.Slot slot;

    public KvCache(List<Tensor> keys, List<Tensor> values, long[] positions) {
        this(keys, values, Positions.of(positions));
    }

    public KvCache(List<Tensor> keys, List<Tensor> values, Positions positions) {
        this(keys, values, positions, null);
    }

    KvCache(List<Tensor> keys, List<Tensor> values, Positions positions, KvCacheBuffer.Slot slot) {
        if (keys.size() != values.size()) throw new IllegalArgumentException("keys and values differ in layer count");
        for (int l = 0; l < keys.size(); l++) {
            if (keys.get(l).size(2) != positions.size() || values.get(l).size(2) != positions.size()) {
                throw new IllegalArgumentException("layer " + l + " holds " + keys.get(l).size(2) + " entries, positions "
                        + positions.size());
            }
        }
        this.keys = List.copyOf(keys);
        this.values = List.copyOf(values);
        this.positions = positions;
        this.slot = slot;
    }

    /** The buffer row this cache is the whole filled part of (null for any other cache). */
    KvCacheBuffer.Slot slot() {
        return slot;
    }

    /** A cache with no entries (and no layers). */
    public static KvCache empty() {
        return new KvCache(List.of(), List.of(), Positions.empty());
    }

    public boolean isEmpty() {
        return positions.size() == 0;
    }

    public int length() {
        return positions.size();
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

    /** The positions each entry's key carries. */
    public Positions positions() {
        return positions;
    }

    /** Entries {@code [from, to)} as views: no copy. */
    public KvCache view(int from, int to) {
        if (from < 0 || to > length() || from > to) {
            throw new IndexOutOfBoundsException("view [" + from + ", " + to + ") of a cache of " + length());
        }
        List<Tensor> k = new ArrayList<>(keys.size());
        List<Tensor> v = new ArrayList<>(values.size());
        for (int l = 0; l < keys.size(); l++) {
            k.add(Ops.narrow(keys.get(l), 2, from, to - from));
            v.add(Ops.narrow(values.get(l), 2, from, to - from));
        }
        return new KvCache(k, v, positions.slice(from, to));
    }

    /** {@code a} followed by {@code b}, layer by layer (a copy). An empty side contributes nothing. */
    public static KvCache concat(KvCache a, KvCache b) {
        if (a.isEmpty() && a.layers() == 0) return b.view(0, b.length());
        if (b.isEmpty() && b.layers() == 0) return a.view(0, a.length());
        if (a.layers() != b.layers()) throw new IllegalArgumentException("caches differ in layer count");
        List<Tensor> k = new ArrayList<>(a.layers());
        List<Tensor> v = new ArrayList<>(a.layers());
        for (int l = 0; l < a.layers(); l++) {
            k.add(Ops.cat(2, a.keys(l), b.keys(l)));
            v.add(Ops.cat(2, a.values(l), b.values(l)));
        }
        return new KvCache(k, v, a.positions.concat(b.positions));
    }

    @Override
    public void close() {
        keys.forEach(Tensor::close);
        values.forEach(Tensor::close);
    }

    @Override
    public String toString() {
        return "KvCache[" + layers() + " layers x " + length() + " entries"
                + (layers() > 0 ? ", " + keys.getFirst() : "") + "]";
    }
}
