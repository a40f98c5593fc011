/**
 * BERT sentence encoders ({@link dkv.scorers.model.TextEncoder}): the family's layer math ({@link
 * dkv.scorers.model.bert.BertFamily}), its typed config, the sentence-transformers files that decide truncation,
 * pooling and normalisation, and how texts are cut into padded batches. See docs/architecture.md, "Model kinds".
 */
package dkv.scorers.model.bert;
