package dkv.scorers.model;

import java.util.List;

/** A sentence-embedding text encoder (BERT-style): texts in, one L2-normalised vector per text out. */
public non-sealed interface TextEncoder extends LoadedModel {

    /** Longest input in tokens, [CLS] and [SEP] included; longer texts are truncated to it. */
    int maxTokens();

    /** One embedding per text (float32, unit length), with the token count each text was embedded from. */
    List<Embedding> embed(List<String> texts);

    record Embedding(float[] vector, int tokens) {}
}
