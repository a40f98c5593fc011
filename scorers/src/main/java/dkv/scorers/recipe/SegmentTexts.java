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
        boolean hasPrefix = p == Placement.PREFIX_FULL || p == Placement.PREFIX_TRUNCATED;
        String prefix = hasPrefix ? surrogate + separator : "";
        String suffix = p == Placement.SUFFIX ? separator + surrogate : "";
        String document = c.getDocumentTemplate().replace("{passage}", s.getPassage());
        String query = (c.getQueryFree() ? c.getQueryFreeTemplate() : c.getQueryTemplate()).replace("{query}", s.getQuery());
        String answer = c.getAnswerTemplate().replace("{answer}", s.getAnswer());
        return new SegmentTexts(prefix, document, suffix, query, answer);
    }

    /** Texts in segment order after BOS. */
    public String[] inOrder() {
        return new String[] {prefix, document, suffix, query, answer};
    }
}
