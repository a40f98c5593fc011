package dkv.scorers.recipe;

import dkv.avro.ConditionSpec;
import dkv.avro.Placement;
import dkv.avro.Sample;
import dkv.avro.ScoreTarget;

/**
 * The texts of a condition's segments after BOS (which comes from the tokenizer's special tokens). Absent
 * segments are empty. PREFIX = surrogate + separator, SUFFIX = separator + surrogate. With target QUERY (query
 * likelihood, for ranking) the scored ANSWER segment holds the query after the query-free framing.
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
        if (c.getTarget() == ScoreTarget.QUERY) {
            // query likelihood: the scored segment holds the query (answer template with {answer} = the query) after
            // the query-free framing; the query appears nowhere else
            return new SegmentTexts(prefix, document, suffix, c.getQueryFreeTemplate(),
                    c.getAnswerTemplate().replace("{answer}", s.getQuery()));
        }
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
