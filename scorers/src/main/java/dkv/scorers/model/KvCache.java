package dkv.scorers.model;

import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import java.util.ArrayList;
import java.util.List;

/**
 * An explicit, inspectable KV cache: per layer the keys and values [1, kvHeads, length, headDim] and, per
 * entry, the {@link Positions} its key was rotated to (2D for GLM). Views ({@link #view}) share storage; {@link #concat} copies.
 * Closing closes its tensor handles (views of another cache leave that cache's storage alive).
 *
 * <p>The caches a batched forward hands back, and those over columns of a {@link KvCacheBuffer} row, are lazy: their
 * per-layer views are made on first use (in the scope that was current when the cache was made), because a forward of
 * B rows would otherwise make B · layers · 2 views that mostly nobody reads (a decode step's whole host time; a
 * continuation's results). A buffer's lazy cache reads its storage: using it after {@link KvCacheBuffer#keepRows} or
 * close is refused.
 */
public final class KvCache implements AutoCloseable {

    /** Per layer, null until made (lazy caches only). */
    private final Tensor[] keys;
    private final Tensor[] values;
    private final Positions positions;
    /** Where a lazy cache's entries live (a buffer's columns, a batch's row), or null for a cache of its own tensors. */
    private final LazyEntries lazy;
    /** Where lazily made views belong (null: to this cache alone). */
    private final TensorScope owner;
    private boolean released;

    public KvCache(List<Tensor> keys, List<Tensor> values, long[] positions) {
        this(keys, values, Positions.of(positions));
    }

    public KvCache(List<Tensor> keys, List<Tensor> values, Positions positions) {
        if (keys.size() != values.size()) throw new IllegalArgumentException("keys and values differ in layer count");
        for (int l = 0; l < keys.size(); l++) {
            if (keys.get(l).size(2) != positions.size() || values.get(l).size(2) != positions.size()) {
                throw new IllegalArgumentException("layer " + l + " holds " + keys.get(l).size(2) + " entries, positions "
                        + positions.size());
            }
        }
        this.keys = keys.toArray(Tensor[]::new);
        this.values = values.toArray(Tensor[]::new);
        this.positions = positions;
        this.lazy = null;
        this.owner = null;
    }

    /** A lazy cache of {@code entries}, whose views will belong to {@code owner}. */
    KvCache(LazyEntries entries, Positions positions, TensorScope owner) {
        if (entries.length() != positions.size()) {
            throw new IllegalArgumentException(entries + " holds " + entries.length() + " entries, positions " + positions.size());
        }
        this.keys = new Tensor[entries.layers()];
        this.values = new Tensor[keys.length];
        this.positions = positions;
        this.lazy = entries;
        this.owner = owner;
        entries.retain();
    }

    /** Entries held elsewhere, per layer made into views of [1, kvHeads, length, headDim] on first use. */
    interface LazyEntries {
        int layers();

        int length();

        /** Layer {@code layer}'s keys (or values), a view. */
        Tensor view(int layer, boolean keysWanted);

        /** Entries {@code [from, to)} of these. */
        LazyEntries slice(int from, int to);

        /** A cache over these was made: what they read must stay until it is closed. */
        default void retain() {
        }

        /** That cache was closed. */
        default void release() {
        }
    }

    /** The buffer columns this cache views (null for any other cache). */
    KvCacheBuffer.Range range() {
        return lazy instanceof KvCacheBuffer.Range r ? r : null;
    }

    /** Where this lazy cache's entries live (null for a cache of its own tensors). */
    LazyEntries lazy() {
        return lazy;
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
        return keys.length;
    }

    public Tensor keys(int layer) {
        if (keys[layer] == null) keys[layer] = made(layer, true);
        return keys[layer];
    }

    public Tensor values(int layer) {
        if (values[layer] == null) values[layer] = made(layer, false);
        return values[layer];
    }

    /** A lazy cache's view of one layer, made now (a closed cache makes none: its reader is using it after close). */
    private Tensor made(int layer, boolean keysWanted) {
        if (released) throw new IllegalStateException("a closed KV cache read (" + lazy + ", layer " + layer + ")");
        return TensorScope.within(owner, () -> lazy.view(layer, keysWanted));
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
        if (lazy != null) return new KvCache(lazy.slice(from, to), positions.slice(from, to), TensorScope.current());
        List<Tensor> k = new ArrayList<>(keys.length);
        List<Tensor> v = new ArrayList<>(values.length);
        for (int l = 0; l < keys.length; l++) {
            k.add(Ops.narrow(keys[l], 2, from, to - from));
            v.add(Ops.narrow(values[l], 2, from, to - from));
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
        if (lazy != null && !released) {
            released = true;  // for a buffer's cache too: reading it after close is refused like any other
            lazy.release();
        }
        for (Tensor t : keys) if (t != null) t.close();
        for (Tensor t : values) if (t != null) t.close();
    }

    @Override
    public String toString() {
        return "KvCache[" + layers() + " layers x " + length() + " entries"
                + (lazy != null ? ", " + lazy : layers() > 0 ? ", " + keys[0] : "") + "]";
    }
}
