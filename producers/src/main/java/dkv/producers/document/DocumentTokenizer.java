package dkv.producers.document;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Counts and cuts text in a model's tokens without loading the model: its {@code tokenizer.json} through DJL's
 * HuggingFace tokenizer (no special tokens, no truncation: DJL's default silently stops at 512 tokens).
 */
public final class DocumentTokenizer {
    private static final Map<Path, DocumentTokenizer> LOADED = new ConcurrentHashMap<>();

    private final HuggingFaceTokenizer tokenizer;

    private DocumentTokenizer(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** The tokenizer of an HF snapshot directory, loaded once per directory. */
    public static DocumentTokenizer of(Path modelDir) {
        return LOADED.computeIfAbsent(modelDir.toAbsolutePath().normalize(), DocumentTokenizer::load);
    }

    private static DocumentTokenizer load(Path modelDir) {
        Path file = modelDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(modelDir + ": no tokenizer.json in the model directory");
        }
        try {
            return new DocumentTokenizer(HuggingFaceTokenizer.newInstance(file,
                    Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "false")));
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot load tokenizer: " + e.getMessage(), e);
        }
    }

    public int count(String text) {
        return tokenizer.encode(text, false, false).getIds().length;
    }

    /**
     * The longest prefix of {@code text} that ends where a token ends and has at most {@code tokens} tokens: the
     * text itself when it is short enough. Re-tokenizing a cut text can merge differently at the cut, so the cut
     * is checked and moved back a token while it counts too many.
     */
    public String prefix(String text, int tokens) {
        Encoding encoding = tokenizer.encode(text, false, false);
        if (encoding.getIds().length <= tokens) {
            return text;
        }
        CharSpan[] spans = encoding.getCharTokenSpans();
        for (int last = tokens; last > 0; last--) {
            CharSpan span = spans[last - 1];
            if (span == null) {
                continue;
            }
            // spans count code points, Java strings UTF-16 units
            String cut = text.substring(0, text.offsetByCodePoints(0, span.getEnd()));
            if (count(cut) <= tokens) {
                return cut;
            }
        }
        return "";
    }
}
