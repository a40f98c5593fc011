package dkv.scorers.recipe;

import dkv.avro.ConditionSpec;
import dkv.avro.RopeCorrection;

/**
 * How a model builds the cache a condition scores against, per {@link ModelShape} (docs/architecture.md "Recipes").
 * Each recipe has one {@code ScoringJob} class in {@code dkv.scorers.score}.
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

    /**
     * The recipe of {@code c} for a model of {@code shape} and {@code family}; a placement the shape has no recipe for,
     * or a condition that requires another family, is refused by name.
     */
    static CacheRecipe of(ConditionSpec c, ModelShape shape, String family) {
        if (c.getRequiresFamily() != null && !c.getRequiresFamily().equals(family)) {
            throw new UnsupportedConditionException("condition '" + c.getName() + "' (placement " + c.getPlacement()
                    + ") requires model family '" + c.getRequiresFamily() + "' but this model is family '" + family + "'");
        }
        return switch (shape) {
            case ENCODER -> throw unsupported(c, family, "a sentence encoder embeds texts and has no placements");
            case DECODER -> switch (c.getPlacement()) {
                case NONE, PREFIX_FULL, SUFFIX -> new FullSequence();
                case PREFIX_TRUNCATED -> new TruncatedPrefix(c.getRopeCorrection(), c.getKeepBos());
                case PREFIX_LM, ENCODER_COENCODE, ENCODER_COENCODE_MASKED -> throw unsupported(c, family,
                        "decoder-only: NONE, PREFIX_FULL, PREFIX_TRUNCATED, SUFFIX");
            };
            case PREFIX_LM -> throw unsupported(c, family, "no prefix-LM recipes in this build");
            case ENCODER_DECODER -> throw unsupported(c, family, "no encoder-decoder recipes in this build");
        };
    }

    private static UnsupportedConditionException unsupported(ConditionSpec c, String family, String supported) {
        return new UnsupportedConditionException("condition '" + c.getName() + "': placement " + c.getPlacement()
                + " is not supported by model family '" + family + "' (" + supported + ")");
    }
}
