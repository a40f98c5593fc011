package dkv.scorers.worker.generator;

import dkv.scorers.model.TextEncoder;
import java.util.List;

/**
 * Unit-length sentence vectors for the generator service's similarities: a {@link TextEncoder} ({@link #of}), or the
 * {@link LexicalEmbedder} stand-in. Vectors have unit length, so the cosine similarity is their dot product.
 */
public interface SurrogateEmbedder {

    /** The embedding model id written into every surrogate's {@code embedder}. */
    String id();

    /** One unit vector per text, in order. */
    List<float[]> embed(List<String> texts);

    /** A loaded sentence encoder, named {@code id}. */
    static SurrogateEmbedder of(TextEncoder encoder, String id) {
        return new SurrogateEmbedder() {
            @Override
            public String id() {
                return id;
            }

            @Override
            public List<float[]> embed(List<String> texts) {
                return encoder.embed(texts).stream().map(TextEncoder.Embedding::vector).toList();
            }
        };
    }

    /** Cosine similarity of two unit vectors: their dot product. */
    static double cosine(float[] a, float[] b) {
        return new TextEncoder.Embedding(a, 0).cosine(new TextEncoder.Embedding(b, 0));
    }
}
