package dkv.scorers.model;

import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The padded shape of one batched forward, shared by every family (docs/architecture.md "Batch geometry"): each
 * row's new tokens left-aligned in {@code [0, width)}, its past entries right-aligned in {@code [0, pastWidth)} so
 * that past + new are contiguous on the key axis {@code [pastWidth + width)}, and its encoder memory (if any)
 * left-aligned in {@code [0, memoryWidth)}. It materialises, once per forward and per distinct layer {@link Window},
 * the boolean masks that combine each row's declared {@link AttentionMask}, the window and key padding; stacks pasts
 * and memories into padded tensors; and cuts the batch's outputs back into per-row results.
 *
 * <p>Fast path kept: without a past, probabilities, a cross memory or a window that bites, and with every row causal,
 * {@link #selfMask} is null and attention runs with SDPA's own causal flag (flash-eligible): right-padded rows see
 * exactly their own keys 0..i, and padding rows' outputs are never read.
 *
 * <p>Tensors it creates belong to the scope open when it is built (the forward's), so build it before the layer loop.
 */
public final class BatchGeometry {

    private final List<ForwardRequest> rows;
    private final Device device;
    private final int width;
    private final int pastWidth;
    private final int memoryWidth;
    private final boolean probsWanted;
    private final boolean allCausal;
    private final Map<Window, Tensor> selfMasks = new LinkedHashMap<>();
    private final Tensor crossMask;
    /** The distinct pasts of the rows (rows reusing one prefill's entries share one), in first use order. */
    private final List<KvCache> pastParts;
    /** For each row and slot of the key axis [0, pastWidth + width), the entry it holds ({@link #withPast}). */
    private final Tensor keyIndex;
    private final List<EncoderMemory> memories;
    private final Tensor memoryIndex;
    /** When the rows are a {@link KvCacheBuffer}'s rows, whole and current, with equal new counts: that buffer. */
    private final KvCacheBuffer inPlace;

    /**
     * @param vocabSize ids must lie in {@code [0, vocabSize)}
     * @param windows   the distinct windows of the model's layers whose masks the forward will ask for
     */
    public BatchGeometry(List<ForwardRequest> rows, Device device, int vocabSize, Collection<Window> windows) {
        if (rows.isEmpty()) throw new IllegalArgumentException("a forward of no rows");
        this.rows = List.copyOf(rows);
        this.device = device;
        int w = 0;
        int pw = 0;
        int mw = 0;
        boolean probs = false;
        boolean causal = true;
        boolean anyCross = false;
        for (ForwardRequest r : rows) {
            if (r.ids().length == 0) throw new IllegalArgumentException("forward of zero tokens");
            for (int id : r.ids()) {
                if (id < 0 || id >= vocabSize) throw new IllegalArgumentException("token id " + id + " outside vocab " + vocabSize);
            }
            w = Math.max(w, r.ids().length);
            pw = Math.max(pw, r.past().length());
            if (r.cross() != null) {
                anyCross = true;
                mw = Math.max(mw, r.cross().memory().length());
            }
            probs |= r.attentionProbs();
            causal &= r.mask() instanceof AttentionMask.Causal;
        }
        if (anyCross && rows.stream().anyMatch(r -> r.cross() == null)) {
            throw new IllegalArgumentException("rows with and without an encoder memory in one forward");
        }
        this.width = w;
        this.pastWidth = pw;
        this.memoryWidth = mw;
        this.probsWanted = probs;
        this.allCausal = causal;
        this.crossMask = anyCross ? buildCrossMask() : null;
        for (Window window : windows) {
            if (!selfMasks.containsKey(window)) selfMasks.put(window, needsSelfMask(window) ? buildSelfMask(window) : null);
        }
        this.inPlace = inPlaceBuffer(this.rows, w);
        if (pastWidth == 0 || rows.size() == 1 || inPlace != null) {
            this.pastParts = List.of();
            this.keyIndex = null;
        } else {
            // rows whose pasts are the same entries (views of one prefill's row, e.g. every condition continuing the
            // bare document) share one part: a lazy cache's entries compare by where they live, others by identity
            Map<Object, Integer> distinct = new HashMap<>();
            List<KvCache> order = new ArrayList<>();
            int[] partOf = new int[rows.size()];
            for (int b = 0; b < rows.size(); b++) {
                KvCache past = rows.get(b).past();
                if (past.isEmpty()) {
                    partOf[b] = -1;
                    continue;
                }
                Object entries = past.lazy() != null ? past.lazy() : past;
                Integer k = distinct.putIfAbsent(entries, order.size());
                if (k == null) order.add(past);
                partOf[b] = k == null ? order.size() - 1 : k;
            }
            this.pastParts = order;
            this.keyIndex = keyIndex(partOf);
        }
        if (anyCross) {
            Map<EncoderMemory, Integer> distinct = new IdentityHashMap<>();
            List<EncoderMemory> order = new ArrayList<>();
            for (ForwardRequest r : rows) {
                if (distinct.putIfAbsent(r.cross().memory(), order.size()) == null) order.add(r.cross().memory());
            }
            this.memories = order;
            this.memoryIndex = order.size() == 1 && rows.size() == 1 ? null : memoryIndex(distinct);
        } else {
            this.memories = List.of();
            this.memoryIndex = null;
        }
    }

    /**
     * The buffer whose rows these are, in order, each past its current whole row and every row adding the same
     * number of tokens with room left: its storage already is the right-aligned padded past, and the new entries
     * fit in the next free columns. Otherwise null (pasts are gathered and the new entries concatenated).
     */
    private static KvCacheBuffer inPlaceBuffer(List<ForwardRequest> rows, int width) {
        KvCacheBuffer buffer = null;
        for (int b = 0; b < rows.size(); b++) {
            ForwardRequest r = rows.get(b);
            KvCacheBuffer.Range range = r.past().range();
            if (range == null || range.row() != b || !range.wholeCurrentRow() || r.ids().length != width) return null;
            if (buffer != null && range.buffer() != buffer) return null;
            buffer = range.buffer();
        }
        return buffer.rows() == rows.size() && buffer.end() + width <= buffer.capacity() ? buffer : null;
    }

    public int batch() {
        return rows.size();
    }

    /** How many distinct pasts the key gather reads (0 when it does not gather). */
    int distinctPasts() {
        return pastParts.size();
    }

    public int width() {
        return width;
    }

    public int pastWidth() {
        return pastWidth;
    }

    public int memoryWidth() {
        return memoryWidth;
    }

    public boolean probsWanted() {
        return probsWanted;
    }

    public boolean hasCross() {
        return crossMask != null;
    }

    public ForwardRequest row(int b) {
        return rows.get(b);
    }

    /** Token ids [B, width] (int64, on the device); padding holds id 0. */
    public Tensor ids() {
        long[] ids = new long[rows.size() * width];
        for (int b = 0; b < rows.size(); b++) {
            int[] r = rows.get(b).ids();
            for (int i = 0; i < r.length; i++) ids[b * width + i] = r[i];
        }
        return Ops.upload(Tensors.fromLongs(ids, rows.size(), width), device);
    }

    /** Channel 1 (or, with {@code second}, channel 2) of every row's new-token positions, padded with 0: [B·width]. */
    public long[] positions(boolean second) {
        long[] out = new long[rows.size() * width];
        for (int b = 0; b < rows.size(); b++) {
            Positions p = rows.get(b).positions();
            long[] channel = second ? p.second() : p.first();
            System.arraycopy(channel, 0, out, b * width, channel.length);
        }
        return out;
    }

    /**
     * bool [B, 1, width, pastWidth + width] (true = may attend) for layers with {@code window}; [B, 1, 1, width] when
     * no row's keys depend on the query ({@link #keysOnly}: broadcast over queries); or null when SDPA's causal flag
     * is exact ({@link #isCausalFastPath}).
     */
    public Tensor selfMask(Window window) {
        if (!selfMasks.containsKey(window)) throw new IllegalStateException("no mask prepared for window " + window);
        return selfMasks.get(window);
    }

    /**
     * {@code mask} as the layers' attention takes it: folded for grouped-query attention ({@link Ops#foldMask}) once
     * per forward rather than once per layer, unless probabilities are wanted (that path repeats the kv heads and takes
     * the mask as it is) or the mask has one query row (it broadcasts). Null stays null.
     */
    public Tensor forGroupedAttention(Tensor mask, int groups) {
        return mask == null || probsWanted || mask.size(2) == 1 ? mask : Ops.foldMask(mask, groups);
    }

    /** Whether layers with {@code window} attend with SDPA's causal flag and no mask tensor. */
    public boolean isCausalFastPath(Window window) {
        return selfMask(window) == null;
    }

    /**
     * bool [B, 1, 1, memoryWidth]: which encoder tokens each row may see, the same for every query of the row (never
     * windowed, never causal); broadcast over the queries.
     */
    public Tensor crossMask() {
        if (crossMask == null) throw new IllegalStateException("no encoder memory in this forward");
        return crossMask;
    }

    private boolean needsSelfMask(Window window) {
        // causal rows never look ahead, so only the window's reach behind can bite
        return pastWidth > 0 || probsWanted || !allCausal || crossMask != null || window.behind() < width - 1;
    }

    /**
     * Whether every query of a row sees the same keys: bidirectional rows without a past, probabilities or a cross
     * memory, under a window that reaches across the whole width (an encoder's forward). Then the mask is one row of
     * keys per sequence, {@code width} times smaller to build and upload than the full one.
     */
    private boolean keysOnly(Window window) {
        return bidirectionalAlone() && window.behind() >= width - 1 && window.ahead() >= width - 1;
    }

    /**
     * Whether the mask for {@code window} is the plain causal one over right-aligned pasts: every row causal and the
     * window reaching across the whole key axis (a continuation batch). Then {@link #causalMaskOnDevice} builds it.
     */
    private boolean causalWithinReach(Window window) {
        return allCausal && window.behind() >= pastWidth + width - 1;
    }

    /**
     * The causal mask [B, 1, width, pastWidth + width] made on the device: query i of row b sees the columns from the
     * row's first past entry to its own ({@code pastWidth + i}). A continuation batch's mask was a host-bound gap in
     * the GPU's work when built cell by cell.
     */
    private Tensor causalMaskOnDevice() {
        int cols = pastWidth + width;
        long[] rowFirst = new long[rows.size()];
        long[] rowEnd = new long[rows.size()];
        for (int r = 0; r < rows.size(); r++) {
            rowFirst[r] = pastWidth - rows.get(r).past().length();
            rowEnd[r] = cols;
        }
        long[] queryFirst = new long[width];
        long[] queryLast = new long[width];
        for (int i = 0; i < width; i++) queryLast[i] = pastWidth + i;
        return maskOnDevice(rowFirst, rowEnd, queryFirst, queryLast);
    }

    /**
     * A mask [B, 1, width, pastWidth + width] made on the device from one upload of per-row and per-query bounds: query
     * i of row b (i below the row's new-token count) sees the columns c with {@code rowFirst[b] ≤ c < rowEnd[b]} and
     * {@code queryFirst[i] ≤ c ≤ queryLast[i]}; a padding query sees only its own column {@code pastWidth + i}. The
     * cells {@link #buildSelfMask}'s general loop gives, from a few hundred indices instead of B·width·(pastWidth +
     * width) host cells.
     */
    private Tensor maskOnDevice(long[] rowFirst, long[] rowEnd, long[] queryFirst, long[] queryLast) {
        int b = rows.size();
        int cols = pastWidth + width;
        // one upload: key columns | each query's own column | query index | query bounds | row bounds | new count
        long[] packed = new long[cols + 4 * width + 3 * b];
        for (int c = 0; c < cols; c++) packed[c] = c;
        for (int i = 0; i < width; i++) {
            packed[cols + i] = pastWidth + i;
            packed[cols + width + i] = i;
        }
        System.arraycopy(queryFirst, 0, packed, cols + 2 * width, width);
        System.arraycopy(queryLast, 0, packed, cols + 3 * width, width);
        System.arraycopy(rowFirst, 0, packed, cols + 4 * width, b);
        System.arraycopy(rowEnd, 0, packed, cols + 4 * width + b, b);
        for (int r = 0; r < b; r++) packed[cols + 4 * width + 2 * b + r] = rows.get(r).ids().length;
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor all = Ops.upload(Tensors.fromLongs(packed, packed.length), device);
            Tensor column = Ops.reshape(Ops.narrow(all, 0, 0, cols), 1, 1, 1, cols);
            Tensor own = perQuery(all, cols);
            Tensor query = perQuery(all, cols + width);
            Tensor first = perQuery(all, cols + 2L * width);
            Tensor last = perQuery(all, cols + 3L * width);
            Tensor start = perRow(all, cols + 4L * width);
            Tensor end = perRow(all, cols + 4L * width + b);
            Tensor count = perRow(all, cols + 4L * width + 2L * b);
            Tensor inRow = Ops.logicalAnd(Ops.ge(column, start), Ops.lt(column, end));
            Tensor seen = Ops.logicalAnd(inRow, Ops.logicalAnd(Ops.ge(column, first), Ops.le(column, last)));
            result = scope.keep(Ops.where(Ops.lt(query, count), seen, Ops.eq(column, own)));
        }
        return result;
    }

    /** {@code width} packed values from {@code at} as [1, 1, width, 1]. */
    private Tensor perQuery(Tensor packed, long at) {
        return Ops.reshape(Ops.narrow(packed, 0, at, width), 1, 1, width, 1);
    }

    /** One packed value per row from {@code at} as [B, 1, 1, 1]. */
    private Tensor perRow(Tensor packed, long at) {
        return Ops.reshape(Ops.narrow(packed, 0, at, rows.size()), rows.size(), 1, 1, 1);
    }

    /** Whether every row is bidirectional without a past, probabilities or a cross memory (an encoder's forward). */
    private boolean bidirectionalAlone() {
        if (pastWidth > 0 || probsWanted || crossMask != null) return false;
        for (ForwardRequest r : rows) {
            if (!(r.mask() instanceof AttentionMask.Bidirectional)) return false;
        }
        return true;
    }

    /**
     * An encoder's windowed mask [B, 1, width, width] made on the device: query i of row b sees the row's keys in
     * {@code [i − behind, i + ahead]} (the host loop over B·width² cells idled the device before every encoder forward
     * with sliding layers).
     */
    private Tensor windowedBidirectionalMaskOnDevice(Window window) {
        long[] rowFirst = new long[rows.size()];
        long[] rowEnd = new long[rows.size()];
        for (int r = 0; r < rows.size(); r++) rowEnd[r] = rows.get(r).ids().length;
        long[] queryFirst = new long[width];
        long[] queryLast = new long[width];
        for (int i = 0; i < width; i++) {
            queryFirst[i] = i - Math.min(window.behind(), width);
            queryLast[i] = i + Math.min(window.ahead(), width);
        }
        return maskOnDevice(rowFirst, rowEnd, queryFirst, queryLast);
    }

    private Tensor buildSelfMask(Window window) {
        if (causalWithinReach(window)) return causalMaskOnDevice();
        if (keysOnly(window)) {
            boolean[] keys = new boolean[rows.size() * width];
            for (int b = 0; b < rows.size(); b++) {
                java.util.Arrays.fill(keys, b * width, b * width + rows.get(b).ids().length, true);
            }
            return Ops.upload(Tensors.fromBooleans(keys, rows.size(), 1, 1, width), device);
        }
        if (bidirectionalAlone()) return windowedBidirectionalMaskOnDevice(window);
        int cols = pastWidth + width;
        boolean[] allowed = new boolean[rows.size() * width * cols];
        for (int b = 0; b < rows.size(); b++) {
            ForwardRequest r = rows.get(b);
            int past = r.past().length();
            int n = r.ids().length;
            int firstPast = pastWidth - past;
            for (int i = 0; i < width; i++) {
                int base = (b * width + i) * cols;
                if (i >= n) {
                    // a padding query row: any one visible key keeps softmax finite; its output is never read
                    allowed[base + pastWidth + i] = true;
                    continue;
                }
                int query = past + i;
                for (int key = 0; key < past + n; key++) {
                    if (r.mask().allows(query, key) && window.allows(query, key)) {
                        int col = key < past ? firstPast + key : pastWidth + (key - past);
                        allowed[base + col] = true;
                    }
                }
            }
        }
        return Ops.upload(Tensors.fromBooleans(allowed, rows.size(), 1, width, cols), device);
    }

    private Tensor buildCrossMask() {
        boolean[] allowed = new boolean[rows.size() * memoryWidth];
        for (int b = 0; b < rows.size(); b++) {
            boolean[] visible = rows.get(b).cross().visible();
            System.arraycopy(visible, 0, allowed, b * memoryWidth, visible.length);
        }
        return Ops.upload(Tensors.fromBooleans(allowed, rows.size(), 1, 1, memoryWidth), device);
    }

    /**
     * For each row and slot of the key axis, the entry it holds in the distinct pasts concatenated and then the new
     * entries of every row ([B·width], row-major) after them: the row's past right-aligned in [0, pastWidth), its new
     * entries from pastWidth on. Slots before a row's past hold entry 0, masked out. int64, on the device.
     */
    private Tensor keyIndex(int[] partOf) {
        long[] partOffsets = offsets(pastParts.stream().mapToInt(KvCache::length).toArray());
        long fresh = pastParts.isEmpty() ? 0 : partOffsets[pastParts.size() - 1] + pastParts.getLast().length();
        int slots = pastWidth + width;
        long[] index = new long[rows.size() * slots];
        for (int b = 0; b < rows.size(); b++) {
            int n = rows.get(b).past().length();
            for (int j = 0; j < n; j++) index[b * slots + pastWidth - n + j] = partOffsets[partOf[b]] + j;
            for (int t = 0; t < width; t++) index[b * slots + pastWidth + t] = fresh + (long) b * width + t;
        }
        return Ops.upload(Tensors.fromLongs(index, index.length), device);
    }

    /**
     * For each row and slot of the merged key axis {@code [self ; memory]} ({@link #withMemory}), the entry it holds in
     * the distinct memories concatenated and then every row's self entries ([B·(pastWidth + width)], row-major): the
     * row's self entries in [0, pastWidth + width), its memory left-aligned after them; slots past the memory's end
     * hold entry 0, masked out.
     */
    private Tensor memoryIndex(Map<EncoderMemory, Integer> partOf) {
        long[] partOffsets = offsets(memories.stream().mapToInt(EncoderMemory::length).toArray());
        long selfStart = partOffsets[memories.size() - 1] + memories.getLast().length();
        int self = pastWidth + width;
        int slots = self + memoryWidth;
        long[] index = new long[rows.size() * slots];
        for (int b = 0; b < rows.size(); b++) {
            for (int s = 0; s < self; s++) index[b * slots + s] = selfStart + (long) b * self + s;
            EncoderMemory m = rows.get(b).cross().memory();
            for (int j = 0; j < m.length(); j++) index[b * slots + self + j] = partOffsets[partOf.get(m)] + j;
        }
        return Ops.upload(Tensors.fromLongs(index, index.length), device);
    }

    /**
     * Layer {@code layer}'s keys (or values) of every row's past followed by its new entries {@code fresh}
     * [B, kvHeads, width, headDim]: [B, kvHeads, pastWidth + width, headDim]. When the rows are a
     * {@link KvCacheBuffer}'s, the new entries are written into its next free columns and the result is a view of its
     * storage (no copy of the past). Otherwise one gather picks every slot from the distinct pasts and the new entries
     * (a past several rows reuse is read once; the result is a permuted view of the gather, not contiguous).
     */
    public Tensor withPast(int layer, boolean keys, Tensor fresh) {
        if (inPlace != null) {
            Tensor storage = inPlace.storage(layer, keys);
            Ops.copyInto(Ops.narrow(storage, 2, inPlace.end(), width), fresh);
            return Ops.narrow(storage, 2, inPlace.end() - pastWidth, pastWidth + width);
        }
        if (pastWidth == 0) return Ops.contiguous(fresh);
        Function<KvCache, Tensor> part = keys ? c -> c.keys(layer) : c -> c.values(layer);
        if (rows.size() == 1) return Ops.cat(2, part.apply(rows.getFirst().past()), fresh);
        List<Tensor> parts = new ArrayList<>(pastParts.size() + 1);
        for (KvCache past : pastParts) parts.add(part.apply(past));
        long kvHeads = fresh.size(1);
        // the new entries as one more part, rows one after another: [B, kvHeads, width, D] → [1, kvHeads, B·width, D]
        parts.add(Ops.unsqueeze(Ops.reshape(Ops.permute(fresh, 1, 0, 2, 3), kvHeads, (long) rows.size() * width, fresh.size(3)), 0));
        return gathered(parts, keyIndex, pastWidth + width);
    }

    /** Where each of parts of these lengths starts when they are concatenated. */
    private static long[] offsets(int[] lengths) {
        long[] starts = new long[lengths.length];
        for (int k = 1; k < lengths.length; k++) starts[k] = starts[k - 1] + lengths[k - 1];
        return starts;
    }

    /**
     * Decoder {@code layer}'s self keys (or values) {@code self} [B, kvHeads, pastWidth + width, headDim] followed by
     * every row's encoder-memory keys (or values), left-aligned: [B, kvHeads, pastWidth + width + memoryWidth, headDim],
     * the key axis of one softmax over {@code [self ; cross]} (mask: {@link #selfMask} then {@link #crossMask}). One
     * gather picks both (a memory several rows read is read once), instead of stacking the memories and then
     * concatenating the self part to them.
     */
    public Tensor withMemory(int layer, boolean keys, Tensor self) {
        if (memories.isEmpty()) throw new IllegalStateException("no encoder memory in this forward");
        List<Tensor> parts = new ArrayList<>(memories.size() + 1);
        for (EncoderMemory m : memories) parts.add(keys ? m.keys(layer) : m.values(layer));
        if (memoryIndex == null) return Ops.cat(2, self, parts.getFirst());
        long kvHeads = self.size(1);
        // the self entries as one more part, rows one after another: [B, kvHeads, S, D] → [1, kvHeads, B·S, D]
        parts.add(Ops.unsqueeze(Ops.reshape(Ops.permute(self, 1, 0, 2, 3), kvHeads, (long) rows.size() * self.size(2), self.size(3)), 0));
        return gathered(parts, memoryIndex, pastWidth + width + memoryWidth);
    }

    /** Parts [1, kvHeads, len_k, headDim] concatenated, gathered by {@code index} into [B, kvHeads, slots, headDim]: two kernels whatever B. */
    private Tensor gathered(List<Tensor> parts, Tensor index, int slots) {
        Tensor all = parts.size() == 1 ? parts.getFirst() : Ops.cat(2, parts);
        Tensor picked = Ops.indexSelect(all, 2, index);  // [1, kvHeads, B·slots, headDim]
        return Ops.permute(Ops.reshape(picked, all.size(1), rows.size(), slots, all.size(3)), 1, 0, 2, 3);
    }

    /** The hidden states [rows, hidden] of every row's requested logit positions, rows concatenated in request order; null for none. */
    public Tensor logitRows(Tensor hidden) {
        List<Tensor> wanted = new ArrayList<>();
        for (int b = 0; b < rows.size(); b++) {
            ForwardRequest r = rows.get(b);
            if (r.logitsTo() > r.logitsFrom()) {
                wanted.add(Ops.narrow(Ops.select(hidden, 0, b), 0, r.logitsFrom(), r.logitsTo() - r.logitsFrom()));
            }
        }
        if (wanted.isEmpty()) return null;
        return wanted.size() == 1 ? wanted.getFirst() : Ops.cat(0, wanted);
    }

    /**
     * Per-row results as views of the batch's outputs: per layer keys/values [B, kvHeads, pastWidth + width, d], self
     * probabilities [B, width, pastWidth + width] and cross probabilities [B, width, memoryWidth] (empty lists when
     * none), and the logits of {@link #logitRows}. Every view is kept in {@code scope}'s parent. Caches are lazy
     * (views made there on first use): of the batch's outputs ({@link BatchRow}) or, for rows that appended in place,
     * of the {@link KvCacheBuffer}'s columns; rows that return probabilities get their views at once.
     */
    public List<ForwardResult> results(List<Tensor> keys, List<Tensor> values, List<Tensor> selfProbs, List<Tensor> crossProbs,
                                       Tensor logits, TensorScope scope) {
        List<ForwardResult> out = new ArrayList<>(rows.size());
        int logitRow = 0;
        SharedBatch shared = null;
        for (int b = 0; b < rows.size(); b++) {
            ForwardRequest r = rows.get(b);
            int past = r.past().length();
            int n = r.ids().length;
            int from = pastWidth - past;
            int count = r.logitsTo() - r.logitsFrom();
            Tensor rowLogits = count == 0 ? null : scope.keep(Ops.narrow(logits, 0, logitRow, count));
            logitRow += count;
            Positions rowPositions = r.past().positions().concat(r.positions());
            if (inPlace != null && !r.attentionProbs()) {
                // the new entries went into the buffer's next columns: the row's cache is a lazy view of them
                KvCache cache = new KvCache(inPlace.range(b, inPlace.end() - past, inPlace.end() + n), rowPositions,
                        scope.enclosing());
                out.add(new ForwardResult(cache, rowLogits, List.of(), List.of()));
                continue;
            }
            if (!r.attentionProbs()) {
                // a lazy view of the batch's outputs: most rows' caches (continuations') are never read
                if (shared == null) shared = new SharedBatch(keys.stream().map(scope::keep).toList(), values.stream().map(scope::keep).toList());
                KvCache cache = new KvCache(new BatchRow(shared, b, from, from + past + n), rowPositions, scope.enclosing());
                out.add(new ForwardResult(cache, rowLogits, List.of(), List.of()));
                continue;
            }
            List<Tensor> rowKeys = new ArrayList<>(keys.size());
            List<Tensor> rowValues = new ArrayList<>(values.size());
            List<Tensor> rowProbs = new ArrayList<>();
            List<Tensor> rowCross = new ArrayList<>();
            for (int l = 0; l < keys.size(); l++) {
                rowKeys.add(scope.keep(Ops.narrow(Ops.narrow(keys.get(l), 0, b, 1), 2, from, past + n)));
                rowValues.add(scope.keep(Ops.narrow(Ops.narrow(values.get(l), 0, b, 1), 2, from, past + n)));
                if (r.attentionProbs()) {
                    Tensor p = Ops.select(selfProbs.get(l), 0, b);
                    rowProbs.add(scope.keep(Ops.narrow(Ops.narrow(p, 0, 0, n), 1, from, past + n)));
                    if (!crossProbs.isEmpty()) {
                        Tensor c = Ops.select(crossProbs.get(l), 0, b);
                        rowCross.add(scope.keep(Ops.narrow(Ops.narrow(c, 0, 0, n), 1, 0, r.cross().memory().length())));
                    }
                }
            }
            out.add(new ForwardResult(new KvCache(rowKeys, rowValues, rowPositions), rowLogits, rowProbs, rowCross));
        }
        return out;
    }

    /**
     * A forward's per-layer keys and values [B, kvHeads, T, headDim], held for the lazy caches of its rows: freed when
     * the last of them is closed (a cache never closed leaves them to the scope that owns them).
     */
    static final class SharedBatch {
        private final List<Tensor> keys;
        private final List<Tensor> values;
        private int holders;

        SharedBatch(List<Tensor> keys, List<Tensor> values) {
            this.keys = keys;
            this.values = values;
        }

        int rows() {
            return Math.toIntExact(keys.getFirst().size(0));
        }

        Tensor layer(int layer, boolean keysWanted) {
            Tensor t = keysWanted ? keys.get(layer) : values.get(layer);
            if (t.isClosed()) throw new IllegalStateException("a forward's cache read after every cache of its batch was closed");
            return t;
        }

        void retain() {
            holders++;
        }

        void release() {
            if (--holders == 0) {
                keys.forEach(Tensor::close);
                values.forEach(Tensor::close);
            }
        }
    }

    /** Row {@code row}'s entries {@code [from, to)} of a forward's outputs. */
    record BatchRow(SharedBatch batch, int row, int from, int to) implements KvCache.LazyEntries {
        @Override
        public int layers() {
            return batch.keys.size();
        }

        @Override
        public int length() {
            return to - from;
        }

        @Override
        public Tensor view(int layer, boolean keysWanted) {
            return KvCacheBuffer.target(batch.layer(layer, keysWanted), row, from, to - from);
        }

        @Override
        public BatchRow slice(int a, int b) {
            return new BatchRow(batch, row, from + a, from + b);
        }

        @Override
        public void retain() {
            batch.retain();
        }

        @Override
        public void release() {
            batch.release();
        }

        @Override
        public String toString() {
            return "batch row " + row + " entries [" + from + ", " + to + ")";
        }
    }
}
