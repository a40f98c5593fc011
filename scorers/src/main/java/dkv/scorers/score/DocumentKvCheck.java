package dkv.scorers.score;

import dkv.scorers.model.KvCache;
import dkv.scorers.recipe.Segment;
import dkv.scorers.recipe.SequenceLayout;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import java.util.Arrays;

/**
 * The recorded cache check {@code document_kv_max_abs_delta}: layer-0 max |ΔK|, |ΔV| of a condition's document entries
 * against the bare cache, computed on the device and read with the call's other values. Zero is expected for SUFFIX
 * in causal models and for corrected truncation. Every family records layer 0, a prefix LM too: there a suffix does
 * change the document's K/V, but only from layer 1 on (a layer-0 key or value depends on its token and position
 * alone), so its layer-0 check stays 0 and what it checks is truncation's re-rotation (0 with HALF_SPLIT, not NONE).
 */
record DocumentKvCheck(HostReadback.Slot keys, HostReadback.Slot values) {

    /** The check's value after the readback's fetch: null when not comparable, 0 for an empty document or equal memory. */
    static Double read(DocumentKvCheck d) {
        if (d == null) return null;
        if (d.keys == null) return 0.0;
        return Math.max(d.keys.values()[0], d.values.values()[0]);
    }

    /**
     * Registers the check of {@code cache}'s entries from {@code documentStart} when the condition's document ids are
     * the bare ones (else null: there is nothing to compare entry by entry). Entries that are the bare prefill's own
     * memory (a condition scored over a view of it) are equal without a kernel.
     */
    static DocumentKvCheck of(SequenceLayout layout, SharedPrefills prefills, KvCache cache, int documentStart, HostReadback readback) {
        SharedPrefills.Prefill bare = prefills.bare();
        int bos = prefills.bos();
        int[] docIds = layout.ids(Segment.DOCUMENT);
        int[] bareDoc = Arrays.copyOfRange(bare.ids, bos, bare.ids.length - prefills.closing());
        if (!Arrays.equals(docIds, bareDoc) || cache.layers() == 0) return null;
        int d = docIds.length;
        if (d == 0) return new DocumentKvCheck(null, null);
        // views in the caller's scope (the call's), which outlives the readback's fetch, as the readback's handles must
        Tensor keys = Ops.narrow(cache.keys(0), 2, documentStart, d);
        Tensor bareKeys = Ops.narrow(bare.cache.keys(0), 2, bos, d);
        Tensor values = Ops.narrow(cache.values(0), 2, documentStart, d);
        Tensor bareValues = Ops.narrow(bare.cache.values(0), 2, bos, d);
        if (sameMemory(keys, bareKeys) && sameMemory(values, bareValues)) return new DocumentKvCheck(null, null);
        return new DocumentKvCheck(readback.maxAbsDiff(keys, bareKeys), readback.maxAbsDiff(values, bareValues));
    }

    /** Whether two tensors are views of the same elements: same address, dtype, device, shape and strides. */
    static boolean sameMemory(Tensor a, Tensor b) {
        return a.dataPointer().address() == b.dataPointer().address() && a.dtype() == b.dtype()
                && a.device().equals(b.device()) && Arrays.equals(a.shape(), b.shape()) && Arrays.equals(a.strides(), b.strides());
    }

    /** max |a − b| read to the host (tests and checks): the readback's computation, fetched at once. */
    public static double maxAbsDiff(Tensor a, Tensor b) {
        HostReadback readback = new HostReadback();
        HostReadback.Slot slot = readback.maxAbsDiff(a, b);
        readback.fetch();
        return slot.values()[0];
    }
}
