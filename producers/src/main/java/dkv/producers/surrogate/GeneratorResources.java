package dkv.producers.surrogate;

import dkv.producers.document.DocumentTokenizer;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Files generators may load, resolved once per plan.
 *
 * @param modelDir      HF snapshot directory whose tokenizer.json gives the vocabulary for random tokens and
 *                      the token counts of long documents
 * @param planDir       relative file parameters resolve against it
 * @param surrogateFile fills file-backed slots (paraphrase, generated) whose plan leaves 'file' out
 */
public record GeneratorResources(Optional<Path> modelDir, Path planDir, Optional<Path> surrogateFile) {
    public static GeneratorResources none() {
        return new GeneratorResources(Optional.empty(), Path.of("."), Optional.empty());
    }

    /** The model's tokenizer vocabulary; {@code needer} names the condition in the error when no model dir was given. */
    public TokenVocabulary vocabulary(String needer) {
        Path dir = modelDir.orElseThrow(() -> new IllegalArgumentException(
                needer + ": needs the model's tokenizer; pass the model directory (--model-dir)"));
        return TokenVocabulary.of(dir);
    }

    /** The model's tokenizer for token counts; {@code needer} names the condition in the error when no model dir was given. */
    public DocumentTokenizer tokenizer(String needer) {
        Path dir = modelDir.orElseThrow(() -> new IllegalArgumentException(
                needer + ": needs the model's tokenizer to count tokens; pass the model directory (--model-dir)"));
        return DocumentTokenizer.of(dir);
    }

    public Path resolve(String file) {
        return planDir.resolve(file);
    }
}
