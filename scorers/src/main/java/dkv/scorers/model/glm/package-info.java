/**
 * The ChatGLM-6B family's tokenization: {@link dkv.scorers.model.glm.ChatGlmTokenizer} (ice_text.model through
 * SentencePiece, ChatGLM's whitespace markers, the image-token id offset of the snapshot's revision, [gMASK] and
 * &lt;sop&gt; closing the prompt), with its parts {@link dkv.scorers.model.glm.ChatGlmWhitespace},
 * {@link dkv.scorers.model.glm.ChatGlmSpecialTokens} and {@link dkv.scorers.model.glm.SentencePieceVocabulary}.
 */
package dkv.scorers.model.glm;
