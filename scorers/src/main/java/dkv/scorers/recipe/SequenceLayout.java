package dkv.scorers.recipe;

import java.util.Arrays;

/**
 * The token ids of one condition's whole text and where each segment lies in them. Lengths come from
 * incremental tokenization ({@link dkv.scorers.model.SegmentTokenizer#layout}), never from tokenizing a
 * segment alone.
 */
public record SequenceLayout(int[] ids, int[] lengths) {

    public SequenceLayout {
        if (lengths.length != Segment.values().length) throw new IllegalArgumentException("one length per segment");
        int total = 0;
        for (Segment s : Segment.values()) {
            if (lengths[s.ordinal()] < 0) {
                throw new IllegalArgumentException("segment " + s + " has negative token length " + lengths[s.ordinal()]
                        + " (the tokenizer merged it into the previous segment)");
            }
            total += lengths[s.ordinal()];
        }
        if (total != ids.length) throw new IllegalArgumentException("segment lengths sum to " + total + ", ids " + ids.length);
    }

    public int length(Segment s) {
        return lengths[s.ordinal()];
    }

    public int start(Segment s) {
        int start = 0;
        for (int i = 0; i < s.ordinal(); i++) start += lengths[i];
        return start;
    }

    public int end(Segment s) {
        return start(s) + length(s);
    }

    public int size() {
        return ids.length;
    }

    /** Ids of positions {@code [from, to)}. */
    public int[] ids(int from, int to) {
        return Arrays.copyOfRange(ids, from, to);
    }

    /** The segment position {@code index} lies in. */
    public Segment segmentAt(int index) {
        for (Segment s : Segment.values()) {
            if (index < end(s)) return s;
        }
        throw new IndexOutOfBoundsException(index + " outside the layout of " + size());
    }

    /** Ids of one segment. */
    public int[] ids(Segment s) {
        return ids(start(s), end(s));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SequenceLayout l && Arrays.equals(ids, l.ids) && Arrays.equals(lengths, l.lengths);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ids) + Arrays.hashCode(lengths);
    }

    @Override
    public String toString() {
        return "SequenceLayout" + Arrays.toString(lengths) + " ids=" + Arrays.toString(ids);
    }
}
