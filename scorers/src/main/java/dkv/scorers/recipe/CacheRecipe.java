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
     * Prefix LM (GLM) NONE, PREFIX_FULL, SUFFIX: the prompt TEXT·[gMASK]·&lt;sop&gt; (TEXT = PREFIX·DOC·SUFFIX, all
     * of it bidirectional) prefilled once per distinct TEXT, then QUERY·ANSWER as a causal continuation after it.
     */
    record PromptContinuation() implements CacheRecipe {}

    /**
     * Prefix LM PREFIX_TRUNCATED: the prompt's PREFIX entries dropped, the position channel of the kept keys rotated by
     * −P ({@code HALF_SPLIT}; {@code NONE} keeps it), the continuation at the truncated cache's [gMASK] index.
     */
    record TruncatedPrompt(RopeCorrection correction) implements CacheRecipe {}

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
            case ENCODER -> throw unsupported(c, family, "a sentence encoder embeds texts and has no placements");
            case DECODER -> switch (c.getPlacement()) {
                case NONE, PREFIX_FULL, SUFFIX -> new FullSequence();
                case PREFIX_TRUNCATED -> new TruncatedPrefix(c.getRopeCorrection(), c.getKeepBos());
                case PREFIX_LM, ENCODER_COENCODE, ENCODER_COENCODE_MASKED -> throw unsupported(c, family,
                        "decoder-only: NONE, PREFIX_FULL, PREFIX_TRUNCATED, SUFFIX");
            };
            case PREFIX_LM -> prefixLm(c, family);
            case ENCODER_DECODER -> switch (c.getPlacement()) {
                case NONE, ENCODER_COENCODE -> new CoEncoded(false, c.getCrossMask());
                case ENCODER_COENCODE_MASKED -> new CoEncoded(true, c.getCrossMask());
                case PREFIX_FULL, PREFIX_TRUNCATED, SUFFIX, PREFIX_LM -> throw unsupported(c, family,
                        "encoder-decoder: NONE, ENCODER_COENCODE, ENCODER_COENCODE_MASKED");
            };
        };
    }

    /** DESIGN.md "Prefix-LM layout": the suffix of a prefix LM lies inside its bidirectional region. */
    private static CacheRecipe prefixLm(ConditionSpec c, String family) {
        return switch (c.getPlacement()) {
            case NONE, PREFIX_FULL, SUFFIX -> new PromptContinuation();
            case PREFIX_TRUNCATED -> switch (c.getRopeCorrection()) {
                case HALF_SPLIT, NONE -> new TruncatedPrompt(c.getRopeCorrection());
                case INTERLEAVED -> throw new UnsupportedConditionException("condition '" + c.getName()
                        + "': rope_correction INTERLEAVED is not defined for model family '" + family
                        + "' (2D RoPE pairs half-split inside each channel: HALF_SPLIT or NONE)");
            };
            // the placement the first plans named for a suffix inside the prompt: SUFFIX is that placement here
            case PREFIX_LM -> throw unsupported(c, family, "prefix LM: a surrogate after the document inside the "
                    + "bidirectional region is placement SUFFIX; NONE, PREFIX_FULL, PREFIX_TRUNCATED, SUFFIX");
            case ENCODER_COENCODE, ENCODER_COENCODE_MASKED -> throw unsupported(c, family,
                    "prefix LM: NONE, PREFIX_FULL, PREFIX_TRUNCATED, SUFFIX");
        };
    }

    private static UnsupportedConditionException unsupported(ConditionSpec c, String family, String supported) {
        return new UnsupportedConditionException("condition '" + c.getName() + "': placement " + c.getPlacement()
                + " is not supported by model family '" + family + "' (" + supported + ")");
    }
}
