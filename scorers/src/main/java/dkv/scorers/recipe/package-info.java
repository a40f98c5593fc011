/**
 * Conditions as sequences: segment texts from a {@code ConditionSpec} and a {@code Sample}
 * ({@link dkv.scorers.recipe.SegmentTexts}), their token layout ({@link dkv.scorers.recipe.SequenceLayout}) and how a
 * decoder-only model builds the cache for each placement ({@link dkv.scorers.recipe.CacheRecipe}).
 */
package dkv.scorers.recipe;
