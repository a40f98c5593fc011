package dkv.scorers.score;

import dkv.avro.ConditionSpec;
import dkv.scorers.recipe.CacheRecipe;
import dkv.scorers.recipe.SegmentTexts;
import dkv.scorers.recipe.SequenceLayout;

/**
 * One condition of one sample, resolved before any compute: its spec, its recipe, its segment texts and the token
 * layout of its scored stream (for an encoder-decoder, the decoder stream; {@code encoder} holds the encoder's).
 */
record ConditionPlan(ConditionSpec spec, CacheRecipe recipe, SegmentTexts texts, SequenceLayout layout, SequenceLayout encoder) {

    ConditionPlan(ConditionSpec spec, CacheRecipe recipe, SegmentTexts texts, SequenceLayout layout) {
        this(spec, recipe, texts, layout, null);
    }

    String name() {
        return spec.getName();
    }
}
