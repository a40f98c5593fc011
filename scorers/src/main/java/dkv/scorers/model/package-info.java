/**
 * Decoder-only model families over the torch runtime: HF snapshot reading ({@link dkv.scorers.model.ModelSnapshot},
 * {@link dkv.scorers.model.ModelConfig}, {@link dkv.scorers.model.SafetensorsIndex}, {@link dkv.scorers.model.WeightLoader}),
 * tokenization by segments ({@link dkv.scorers.model.SegmentTokenizer}), the one RoPE ({@link dkv.scorers.model.Rope}),
 * the explicit KV cache ({@link dkv.scorers.model.KvCache}) and the family registry
 * ({@link dkv.scorers.model.ModelFamilies} → {@link dkv.scorers.model.LlamaFamily}, {@link dkv.scorers.model.glm.GlmFamily}).
 */
package dkv.scorers.model;
