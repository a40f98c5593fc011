package dkv.scorers.recipe;

import java.util.Locale;

/**
 * The segments of a condition's token streams, in order (docs/architecture.md "Layouts"). A decoder-only condition
 * is one stream {@code BOS·PREFIX·DOCUMENT·SUFFIX·QUERY·ANSWER}; GLM's prompt ends with SPECIAL (the {@code [gMASK]
 * <sop>} its tokenizer appends after the text); an encoder-decoder has an encoder stream {@code BOS·PREFIX·DOCUMENT}
 * and a decoder stream {@code BOS·QUERY·ANSWER}. Absent segments are empty.
 */
public enum Segment {
    BOS, PREFIX, DOCUMENT, SUFFIX, SPECIAL, QUERY, ANSWER;

    /** The record field that carries this segment ({@code SegmentTokens}, {@code SegmentShares}). */
    public String field() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The segment a record field names, or null (e.g. a field that no layout has). */
    public static Segment ofField(String field) {
        for (Segment s : values()) if (s.field().equals(field)) return s;
        return null;
    }
}
