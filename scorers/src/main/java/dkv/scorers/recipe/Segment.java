package dkv.scorers.recipe;

/** The segments of a condition's sequence, in order (DESIGN.md "Sequence layout"). */
public enum Segment {
    BOS, PREFIX, DOCUMENT, SUFFIX, QUERY, ANSWER
}
