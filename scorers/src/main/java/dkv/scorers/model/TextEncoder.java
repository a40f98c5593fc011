package dkv.scorers.model;

import java.util.List;

/**
 * A sentence-embedding text encoder (BERT-style): texts in, one L2-normalised vector per text out. Because every
 * vector has unit length, the cosine similarity of two texts is the dot product of their vectors
 * ({@link Embedding#cosine}); nothing else needs the encoder to compare them.
 */
public non-sealed interface TextEncoder extends LoadedModel {

    @Override
    default dkv.scorers.recipe.ModelShape shape() {
        return dkv.scorers.recipe.ModelShape.ENCODER;
    }

    /**
     * {@code model} as a text encoder, e.g. {@code TextEncoder.require(ModelFamilies.load(dir, device, dtype))};
     * any other kind is closed and refused, naming its directory and family.
     */
    static TextEncoder require(LoadedModel model) {
        if (model instanceof TextEncoder encoder) return encoder;
        model.close();
        throw new IllegalArgumentException(model.snapshot().dir() + ": a " + model.family()
                + " model is not a sentence encoder (a BERT sentence-transformers snapshot is)");
    }

    /** Longest input in tokens, [CLS] and [SEP] included; longer texts are truncated to it. */
    int maxTokens();

    /** Width of every vector. */
    int dimension();

    /**
     * One embedding per text, in order (float32, unit length), with the token count each text was embedded from.
     * Any number of texts: the encoder cuts them into padded batches of similar length itself.
     */
    List<Embedding> embed(List<String> texts);

    /** A unit-length sentence vector and the number of tokens (after truncation) it was computed from. */
    record Embedding(float[] vector, int tokens) {

        /** The cosine similarity with {@code other}: their dot product, both being unit length (in [-1, 1]). */
        public double cosine(Embedding other) {
            if (other.vector.length != vector.length) {
                throw new IllegalArgumentException("embeddings of width " + vector.length + " and " + other.vector.length);
            }
            double dot = 0;
            for (int i = 0; i < vector.length; i++) dot += (double) vector[i] * other.vector[i];
            return dot;
        }

        /**
         * {@code v / max(‖v‖, 1e-12)} in double precision, as torch's {@code F.normalize} (sentence-transformers'
         * Normalize module) does, so a zero vector stays zero instead of becoming NaN.
         */
        public static float[] unitLength(float[] v) {
            double sum = 0;
            for (float x : v) sum += (double) x * x;
            double norm = Math.max(Math.sqrt(sum), 1e-12);
            float[] out = new float[v.length];
            for (int i = 0; i < v.length; i++) out[i] = (float) (v[i] / norm);
            return out;
        }
    }
}
