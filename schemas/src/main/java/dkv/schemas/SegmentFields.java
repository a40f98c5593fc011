package dkv.schemas;

import dkv.avro.SegmentShares;
import dkv.avro.SegmentTokens;
import java.util.List;
import java.util.function.ToDoubleFunction;
import java.util.function.ToIntFunction;

/**
 * The one mapping between a layout's segments and the record fields that carry them ({@code SegmentTokens},
 * {@code SegmentShares}): field names come from the schemas themselves, so the scorer, fixtures, JSON output and the
 * aggregator read and write the same names in the same order, and a new segment is a schema change, not seven edits.
 */
public final class SegmentFields {

    private static final List<String> TOKEN_FIELDS =
            SegmentTokens.getClassSchema().getFields().stream().map(f -> f.name()).toList();
    private static final List<String> SHARE_FIELDS =
            SegmentShares.getClassSchema().getFields().stream().map(f -> f.name()).toList();

    private SegmentFields() {}

    /** Field names of {@code SegmentTokens}, in schema order (bos, prefix, document, suffix, query, answer, special). */
    public static List<String> tokenFields() {
        return TOKEN_FIELDS;
    }

    /** Field names of {@code SegmentShares}, in schema order. */
    public static List<String> shareFields() {
        return SHARE_FIELDS;
    }

    /** A {@code SegmentTokens} with each field's count from {@code count} (by field name). */
    public static SegmentTokens tokens(ToIntFunction<String> count) {
        SegmentTokens t = new SegmentTokens();
        for (String f : TOKEN_FIELDS) t.put(f, count.applyAsInt(f));
        return t;
    }

    /** A {@code SegmentShares} with each field's share from {@code share} (by field name). */
    public static SegmentShares shares(ToDoubleFunction<String> share) {
        SegmentShares s = new SegmentShares();
        for (String f : SHARE_FIELDS) s.put(f, (float) share.applyAsDouble(f));
        return s;
    }

    public static int count(SegmentTokens t, String field) {
        return (Integer) t.get(field);
    }

    public static float share(SegmentShares s, String field) {
        return (Float) s.get(field);
    }
}
