package dkv.scorers.recipe;

import dkv.avro.ConditionSpec;
import dkv.avro.Placement;
import dkv.avro.Sample;

/**
 * The texts of a condition's segments after BOS (which comes from the tokenizer's special tokens). Absent
 * segments are empty. PREFIX = surrogate + separator, SUFFIX = separator + surrogate.
 */
public record SegmentTexts(String prefix, String document, String suffix, String query, String answer) {

    public static SegmentTexts of(ConditionSpec c, Sample s) {
        String surrogate = c.getSurrogate() == null ? "" : c.getSurrogate();
        String separator = c.getSeparator();
        Placement p = c.getPlacement();
        // a co-encoded prefix sits in the encoder stream; without a surrogate the encoder holds the document alone
        boolean coEncoded = (p == Placement.ENCODER_COENCODE || p == Placement.ENCODER_COENCODE_MASKED) && c.getSurrogate() != null;
        boolean hasPrefix = p == Placement.PREFIX_FULL || p == Placement.PREFIX_TRUNCATED || coEncoded;
        String prefix = hasPrefix ? surrogate + separator : "";
        String suffix = p == Placement.SUFFIX ? separator + surrogate : "";
        String document = c.getDocumentTemplate().replace("{passage}", s.getPassage());
        String query = (c.getQueryFree() ? c.getQueryFreeTemplate() : c.getQueryTemplate()).replace("{query}", s.getQuery());
        String answer = c.getAnswerTemplate().replace("{answer}", s.getAnswer());
        return new SegmentTexts(prefix, document, suffix, query, answer);
    }

    /** The text of a segment after BOS; SPECIAL has none (its tokens come from the tokenizer). */
    public String text(Segment s) {
        return switch (s) {
            case BOS, SPECIAL -> "";
            case PREFIX -> prefix;
            case DOCUMENT -> document;
            case SUFFIX -> suffix;
            case QUERY -> query;
            case ANSWER -> answer;
        };
    }

    /** These texts with only the segments of {@code stream} (the others empty), e.g. an encoder's PREFIX·DOCUMENT. */
    public SegmentTexts only(Segment... stream) {
        java.util.Set<Segment> keep = java.util.EnumSet.noneOf(Segment.class);
        keep.addAll(java.util.List.of(stream));
        return new SegmentTexts(keep.contains(Segment.PREFIX) ? prefix : "", keep.contains(Segment.DOCUMENT) ? document : "",
                keep.contains(Segment.SUFFIX) ? suffix : "", keep.contains(Segment.QUERY) ? query : "",
                keep.contains(Segment.ANSWER) ? answer : "");
    }
}
