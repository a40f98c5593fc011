/**
 * The ChatGLM-6B family: {@link dkv.scorers.model.glm.GlmFamily} (the forward, a prefix LM with 2D RoPE, from
 * {@code .bin} shards), its config {@link dkv.scorers.model.glm.GlmConfig}, the two-part layout tokenizer
 * {@link dkv.scorers.model.glm.GlmLayoutTokenizer}, and its tokenization:
 * {@link dkv.scorers.model.glm.ChatGlmTokenizer} (ice_text.model through SentencePiece, ChatGLM's whitespace markers,
 * the image-token id offset of the snapshot's revision, [gMASK] and &lt;sop&gt; closing the prompt), with its parts
 * {@link dkv.scorers.model.glm.ChatGlmWhitespace}, {@link dkv.scorers.model.glm.ChatGlmSpecialTokens} and
 * {@link dkv.scorers.model.glm.SentencePieceVocabulary}.
 */
package dkv.scorers.model.glm;
