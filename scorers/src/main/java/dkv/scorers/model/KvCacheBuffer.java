package dkv.scorers.model;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A KV cache that grows in place (generation), for one row or a batch of rows: per layer one storage
 * [rows, kvHeads, capacity, headDim] allocated once. Every row's entries are right-aligned at a common end column
 * ({@link #end()}), row b filling {@code [end − length(b), end)} — exactly {@link BatchGeometry}'s right-aligned past
 * layout, so a forward whose rows are this buffer's rows ({@link #row}) stacks the pasts as one view and writes its
 * new entries straight into the next free columns ({@link BatchGeometry#withPast}), its results are lazy views of those
 * columns, and {@link #appendRows} then only moves the end: a decode step makes no per-row, per-layer tensors.
 * Appending never copies the past, so a step costs its own entries, not the whole history.
 *
 * <p>Free columns past the end are scratch until appended: a second forward before an append overwrites them.
 */
public final class KvCacheBuffer implements AutoCloseable {

    /** Columns {@code [from, to)} of buffer row {@code row}, as laid out in storage {@code generation}. */
    record Range(KvCacheBuffer buffer, int row, int from, int to, int generation) implements KvCache.LazyEntries {

        @Override
        public int layers() {
            return buffer.layers();
        }

        @Override
        public int length() {
            return to - from;
        }

        /** Whether these columns are the row's whole filled part now: a forward may append after them in place. */
        boolean wholeCurrentRow() {
            return usable() && to == buffer.end && to - from == buffer.lengths[row];
        }

        /** Whether these are exactly the {@code count} columns before {@code end} of row {@code row} of {@code b}. */
        boolean isTarget(KvCacheBuffer b, int row, int end, int count) {
            return buffer == b && usable() && this.row == row && to == end && to - from == count;
        }

        @Override
        public Range slice(int a, int b) {
            return new Range(buffer, row, from + a, from + b, generation);
        }

        /** Layer {@code layer}'s keys (or values) of these columns, [1, kvHeads, to − from, headDim], a view. */
        @Override
        public Tensor view(int layer, boolean keysWanted) {
            if (!usable()) {
                throw new IllegalStateException("a view of cache buffer row " + row + " read after the buffer dropped rows or closed");
            }
            return target(buffer.storage(layer, keysWanted), row, from, to - from);
        }

        private boolean usable() {
            return buffer.generation == generation && !buffer.closed;
        }

        @Override
        public String toString() {
            return "buffer row " + row + " columns [" + from + ", " + to + ")";
        }
    }

    private List<Tensor> keys;
    private List<Tensor> values;
    private final int capacity;
    private int end;
    private int[] lengths;
    private Positions[] positions;
    private int generation;
    private boolean closed;

    private KvCacheBuffer(List<Tensor> keys, List<Tensor> values, int rows, int capacity) {
        this.keys = keys;
        this.values = values;
        this.capacity = capacity;
        this.lengths = new int[rows];
        this.positions = new Positions[rows];
        Arrays.fill(positions, Positions.empty());
    }

    /** Room for {@code capacity} entries of {@code layers} layers, one row: [1, kvHeads, capacity, headDim] each. */
    public static KvCacheBuffer allocate(int layers, long kvHeads, int capacity, long headDim, DType dtype, Device device) {
        return allocate(layers, 1, kvHeads, capacity, headDim, dtype, device);
    }

    /**
     * Room for {@code capacity} columns of {@code rows} rows: [rows, kvHeads, capacity, headDim] per layer, zeroed.
     * The storage belongs to the scope open now (and to this buffer: {@link #close} frees it earlier).
     */
    public static KvCacheBuffer allocate(int layers, int rows, long kvHeads, int capacity, long headDim, DType dtype, Device device) {
        if (rows < 1) throw new IllegalArgumentException("a cache buffer of " + rows + " rows");
        List<Tensor> k = new ArrayList<>(layers);
        List<Tensor> v = new ArrayList<>(layers);
        for (int l = 0; l < layers; l++) {
            k.add(Tensors.empty(dtype, device, rows, kvHeads, capacity, headDim));
            v.add(Tensors.empty(dtype, device, rows, kvHeads, capacity, headDim));
        }
        // zeros, not garbage: a padding column is masked out, but a NaN there would still poison softmax · V
        try (TensorScope _ = TensorScope.open()) {
            Tensor zero = Tensors.scalar(0);
            for (int l = 0; l < layers; l++) {
                Ops.copyInto(k.get(l), zero);
                Ops.copyInto(v.get(l), zero);
            }
        }
        return new KvCacheBuffer(k, v, rows, capacity);
    }

    /**
     * A buffer shaped like the entries of {@code like} (layers, kvHeads, headDim, dtype, device), with
     * {@code rows} rows of {@code capacity} columns.
     */
    public static KvCacheBuffer allocateLike(KvCache like, int rows, int capacity) {
        if (like.layers() == 0) throw new IllegalArgumentException("cannot shape a cache buffer after a cache of no layers");
        Tensor k = like.keys(0);
        return allocate(like.layers(), rows, k.size(1), capacity, k.size(3), k.dtype(), k.device());
    }

    public int rows() {
        return lengths.length;
    }

    /** Entries of the one row of a single-row buffer. */
    public int length() {
        return length(onlyRow());
    }

    /** Entries of row {@code row}. */
    public int length(int row) {
        return lengths[row];
    }

    /** The column after every row's last entry. */
    public int end() {
        return end;
    }

    public int capacity() {
        return capacity;
    }

    /** Copies {@code entries} (e.g. the new part of a forward's cache) after the filled part of a single-row buffer. */
    public void append(KvCache entries) {
        onlyRow();
        appendRows(List.of(entries));
    }

    /**
     * Appends each row's entries after its filled part: the end moves by the largest count, and a row with fewer
     * entries must be empty so far (the prompts of a prefill, right-aligned). Entries a forward already wrote in
     * place (their storage is the target columns) are not copied again.
     */
    public void appendRows(List<KvCache> entries) {
        if (entries.size() != rows()) {
            throw new IllegalArgumentException("appending " + entries.size() + " rows to a buffer of " + rows());
        }
        int n = 0;
        for (KvCache e : entries) n = Math.max(n, e.length());
        if (n == 0) return;
        for (int b = 0; b < rows(); b++) {
            KvCache e = entries.get(b);
            if (e.length() > 0 && e.layers() != keys.size()) {
                throw new IllegalArgumentException("appending " + e.layers() + " layers to a buffer of " + keys.size());
            }
            if (e.length() != n && lengths[b] > 0) {
                throw new IllegalArgumentException("row " + b + " takes " + e.length() + " entries while others take " + n
                        + ": only an empty row may take fewer (they would leave a gap)");
            }
        }
        if (end + n > capacity) {
            throw new IllegalArgumentException("cache buffer of " + capacity + " entries cannot take " + n + " more after " + end);
        }
        try (TensorScope _ = TensorScope.open()) {
            boolean batched = appendedAsBatch(entries, n);
            for (int b = 0; !batched && b < rows(); b++) {
                KvCache e = entries.get(b);
                int count = e.length();
                if (count == 0) continue;
                // entries a forward wrote straight into these columns (a lazy view of them): nothing to copy
                if (e.range() != null && e.range().isTarget(this, b, end + n, count)) continue;
                for (int l = 0; l < keys.size(); l++) {
                    copyUnlessInPlace(target(keys.get(l), b, end + n - count, count), e.keys(l));
                    copyUnlessInPlace(target(values.get(l), b, end + n - count, count), e.values(l));
                }
            }
        }
        end += n;
        for (int b = 0; b < rows(); b++) {
            KvCache e = entries.get(b);
            lengths[b] += e.length();
            positions[b] = positions[b].concat(e.positions());
        }
    }

    /**
     * When row b's entries are the first ones of row b of one forward's outputs for every b (a prefill of this buffer's
     * rows, lazily viewed): all rows right-aligned into the next {@code n} columns with one gather per layer and K/V,
     * instead of one copy per row and layer (160 rows × 32 layers × 2 were 10k launches). False when they are not that.
     */
    private boolean appendedAsBatch(List<KvCache> entries, int n) {
        BatchGeometry.SharedBatch batch = null;
        int[] from = new int[rows()];
        int[] count = new int[rows()];
        for (int b = 0; b < rows(); b++) {
            if (!(entries.get(b).lazy() instanceof BatchGeometry.BatchRow r) || r.row() != b
                    || (batch != null && r.batch() != batch)) {
                return false;
            }
            batch = r.batch();
            from[b] = r.from();
            count[b] = r.length();
        }
        if (batch.rows() != rows()) return false;
        Tensor first = batch.layer(0, true);
        long width = first.size(2);
        long kvHeads = first.size(1);
        long headDim = first.size(3);
        // column j of row b's n new columns reads the row's entry j − (n − count), or is padding (zeroed)
        long[] index = new long[rows() * n];
        boolean[] padding = new boolean[rows() * n];
        for (int b = 0; b < rows(); b++) {
            for (int j = 0; j < n; j++) {
                int k = j - (n - count[b]);
                index[b * n + j] = b * width + (k >= 0 ? from[b] + k : 0);
                padding[b * n + j] = k < 0;
            }
        }
        Device device = first.device();
        Tensor picks = Ops.upload(Tensors.fromLongs(index, index.length), device);
        Tensor pad = Ops.upload(Tensors.fromBooleans(padding, rows(), n, 1, 1), device);
        for (int l = 0; l < keys.size(); l++) {
            for (boolean k : new boolean[] {true, false}) {
                // each layer's temporaries are freed before the next layer's: they are three copies of its K or V
                try (TensorScope _ = TensorScope.open()) {
                    // [B, kvHeads, W, d] → rows of (b, column): [B·W, kvHeads, d], picked, zeroed where padding
                    Tensor flat = Ops.reshape(Ops.transpose(batch.layer(l, k), 1, 2), rows() * width, kvHeads, headDim);
                    Tensor picked = Ops.maskedFill(Ops.reshape(Ops.indexSelect(flat, 0, picks), rows(), n, kvHeads, headDim), pad, 0);
                    Ops.copyInto(Ops.narrow(k ? keys.get(l) : values.get(l), 2, end, n), Ops.transpose(picked, 1, 2));
                }
            }
        }
        return true;
    }

    /**
     * Columns {@code [from, from + count)} of row {@code row} of a [rows, kvHeads, T, headDim] tensor, one view. The
     * intermediate row view is closed here: a lazy cache makes its views in a scope that outlives it, where a
     * leftover handle of the whole row would keep the storage until that scope ends.
     */
    static Tensor target(Tensor storage, int row, int from, int count) {
        Tensor rowView = Ops.narrow(storage, 0, row, 1);
        try {
            return Ops.narrow(rowView, 2, from, count);
        } finally {
            rowView.close();
        }
    }

    private static void copyUnlessInPlace(Tensor target, Tensor source) {
        if (target.dataPointer().address() == source.dataPointer().address()
                && Arrays.equals(target.strides(), source.strides())) {
            return;
        }
        Ops.copyInto(target, source);
    }

    /**
     * Row {@code row}'s filled entries as a lazy view of the storage: its per-layer views are made on first use, in the
     * scope open now. Its columns stay as they are across appends; after {@link #keepRows} or close, views it had
     * made stay readable while unmade ones are refused.
     */
    public KvCache row(int row) {
        if (closed) throw new IllegalStateException("cache buffer is closed");
        Objects.checkIndex(row, rows());
        return new KvCache(range(row, end - lengths[row], end), positions[row], TensorScope.current());
    }

    /** Columns {@code [from, to)} of row {@code row} as they are laid out now. */
    Range range(int row, int from, int to) {
        return new Range(this, row, from, to, generation);
    }

    int layers() {
        return keys.size();
    }

    /** The filled entries of a single-row buffer as views of the storage. */
    public KvCache view() {
        return row(onlyRow());
    }

    /**
     * Keeps only rows {@code kept} (in that order), e.g. when others finished generating: one gather per layer into new
     * storage, so later steps compute nothing for the dropped rows. Views handed out before are invalid afterwards.
     */
    public void keepRows(int[] kept) {
        if (kept.length == 0) throw new IllegalArgumentException("keeping no rows of a cache buffer");
        long[] index = new long[kept.length];
        for (int i = 0; i < kept.length; i++) {
            if (kept[i] < 0 || kept[i] >= rows()) throw new IndexOutOfBoundsException("row " + kept[i] + " of " + rows());
            index[i] = kept[i];
        }
        List<Tensor> k = new ArrayList<>(keys.size());
        List<Tensor> v = new ArrayList<>(values.size());
        try (TensorScope scope = TensorScope.open()) {
            Tensor idx = Ops.upload(Tensors.fromLongs(index, index.length), keys.getFirst().device());
            for (int l = 0; l < keys.size(); l++) {
                k.add(scope.keep(Ops.indexSelect(keys.get(l), 0, idx)));
                v.add(scope.keep(Ops.indexSelect(values.get(l), 0, idx)));
            }
        }
        keys.forEach(Tensor::close);
        values.forEach(Tensor::close);
        keys = k;
        values = v;
        int[] newLengths = new int[kept.length];
        Positions[] newPositions = new Positions[kept.length];
        for (int i = 0; i < kept.length; i++) {
            newLengths[i] = lengths[kept[i]];
            newPositions[i] = positions[kept[i]];
        }
        lengths = newLengths;
        positions = newPositions;
        generation++;
    }

    /** Layer {@code layer}'s whole key (or value) storage [rows, kvHeads, capacity, headDim], for {@link BatchGeometry}. */
    Tensor storage(int layer, boolean keysWanted) {
        return keysWanted ? keys.get(layer) : values.get(layer);
    }

    private int onlyRow() {
        if (rows() != 1) throw new IllegalStateException("a buffer of " + rows() + " rows: name the row");
        return 0;
    }

    @Override
    public void close() {
        closed = true;
        keys.forEach(Tensor::close);
        values.forEach(Tensor::close);
    }
}
