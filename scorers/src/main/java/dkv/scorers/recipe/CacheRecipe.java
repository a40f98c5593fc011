package dkv.scorers.recipe;

import dkv.avro.ConditionSpec;
import dkv.avro.RopeCorrection;

/**
 * How a decoder-only model builds the cache a condition scores against (DESIGN.md "Sequence layout").
 */
public sealed interface CacheRecipe {

    /** One causal pass over the whole layout: NONE, PREFIX_FULL (prefix stays visible), SUFFIX. */
    record FullSequence() implements CacheRecipe {}

    /**
     * PREFIX_TRUNCATED: prefill BOS·PREFIX·DOC, drop the PREFIX entries (and BOS unless {@code keepBos}),
     * re-rotate the document keys back by the dropped length with {@code correction}'s pairing (NONE keeps
     * the old rotation), then run QUERY·ANSWER at positions continuing after the kept entries.
     */
    record TruncatedPrefix(RopeCorrection correction, boolean keepBos) implements CacheRecipe {}

    /** The recipe of {@code c} for a decoder-only model of {@code family}; anything else is refused by name. */
    static CacheRecipe of(ConditionSpec c, String family) {
        if (c.getRequiresFamily() != null && !c.getRequiresFamily().equals(family)) {
            throw new UnsupportedConditionException("condition '" + c.getName() + "' (placement " + c.getPlacement()
                    + ") requires model family '" + c.getRequiresFamily() + "' but this model is family '" + family + "'");
        }
        return switch (c.getPlacement()) {
            case NONE, PREFIX_FULL, SUFFIX -> new FullSequence();
            case PREFIX_TRUNCATED -> new TruncatedPrefix(c.getRopeCorrection(), c.getKeepBos());
            case PREFIX_LM, ENCODER_COENCODE, ENCODER_COENCODE_MASKED -> throw new UnsupportedConditionException(
                    "condition '" + c.getName() + "': placement " + c.getPlacement() + " is not supported by model family '"
                            + family + "' (decoder-only: NONE, PREFIX_FULL, PREFIX_TRUNCATED, SUFFIX)");
        };
    }
}
