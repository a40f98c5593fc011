package dkv.scorers.worker.generator;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A stand-in for a sentence encoder: hashed bag of lower-cased words, L2 normalised. Texts that share words are
 * similar and texts that share none have similarity 0, deterministically and without a model; it knows nothing of
 * meaning (synonyms, paraphrases). For tests and the demo, which say so; a real run embeds with a BERT
 * sentence-transformers snapshot.
 */
public final class LexicalEmbedder implements SurrogateEmbedder {
    public static final String ID = "dkv-lexical-stand-in";
    private static final int DIMENSION = 512;

    @Override
    public String id() {
        return ID;
    }

    @Override
    public List<float[]> embed(List<String> texts) {
        List<float[]> vectors = new ArrayList<>(texts.size());
        for (String text : texts) {
            float[] v = new float[DIMENSION];
            for (String word : text.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}]+")) {
                if (!word.isEmpty()) v[Math.floorMod(word.hashCode(), DIMENSION)] += 1;
            }
            vectors.add(dkv.scorers.model.TextEncoder.Embedding.unitLength(v));
        }
        return vectors;
    }
}
