package dkv.scorers.recipe;

import dkv.avro.ConditionSpec;
import dkv.avro.CrossMask;
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
     * Encoder-decoder (NONE, ENCODER_COENCODE, ENCODER_COENCODE_MASKED): the encoder runs once over BOS·PREFIX·DOC
     * (shared by every condition with that input), the decoder over BOS·QUERY·ANSWER cross-attends to it. With
     * {@code masked}, the cross-attention mask hides the PREFIX tokens ({@code hide} = PREFIX) or, as the research's
     * off-by-one did, encoder positions [0, P): BOS and all but the last prefix token (RESEARCH_OFF_BY_ONE).
     */
    record CoEncoded(boolean masked, CrossMask hide) implements CacheRecipe {}

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
            case DECODER -> switch (c.getPlacement()) {
                case NONE, PREFIX_FULL, SUFFIX -> new FullSequence();
                case PREFIX_TRUNCATED -> new TruncatedPrefix(c.getRopeCorrection(), c.getKeepBos());
                case PREFIX_LM, ENCODER_COENCODE, ENCODER_COENCODE_MASKED -> throw unsupported(c, family,
                        "decoder-only: NONE, PREFIX_FULL, PREFIX_TRUNCATED, SUFFIX");
            };
            case PREFIX_LM -> throw unsupported(c, family, "no prefix-LM recipes in this build");
            case ENCODER_DECODER -> switch (c.getPlacement()) {
                case NONE, ENCODER_COENCODE -> new CoEncoded(false, c.getCrossMask());
                case ENCODER_COENCODE_MASKED -> new CoEncoded(true, c.getCrossMask());
                case PREFIX_FULL, PREFIX_TRUNCATED, SUFFIX, PREFIX_LM -> throw unsupported(c, family,
                        "encoder-decoder: NONE, ENCODER_COENCODE, ENCODER_COENCODE_MASKED");
            };
        };
    }

    private static UnsupportedConditionException unsupported(ConditionSpec c, String family, String supported) {
        return new UnsupportedConditionException("condition '" + c.getName() + "': placement " + c.getPlacement()
                + " is not supported by model family '" + family + "' (" + supported + ")");
    }
}
