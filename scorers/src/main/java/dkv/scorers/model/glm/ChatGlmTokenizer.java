package dkv.scorers.model.glm;

import ai.djl.sentencepiece.SpProcessor;
import ai.djl.sentencepiece.SpTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * ChatGLM-6B's tokenizer: {@code ice_text.model} run by SentencePiece itself (DJL's binding, native library inside
 * its jar) behind ChatGLM's whitespace preprocessing ({@link ChatGlmWhitespace}), ids shifted by the snapshot's
 * image-token offset ({@link ChatGlmSpecialTokens}); decoding and piece lookups over the same file read in Java
 * ({@link SentencePieceVocabulary}). Matches tokenization_chatglm.py's {@code SPTokenizer.encode}
 * with its defaults: the text gets SentencePiece's dummy prefix, so its first piece starts with ▁ (for Chinese
 * text often the lone ▁, id 5 in the real model). Literal special-token strings in the text are left to
 * SentencePiece, as in chatglm.cpp (HF's slow tokenizer would split some of them out first).
 *
 * <p>The prefix-LM layout (DESIGN.md) tokenizes in two parts: the prompt TEXT closed by {@code [gMASK] <sop>}
 * ({@link #encodePrompt}), and the continuation QUERY·ANSWER as a new SentencePiece text ({@link #encodeContinuation}).
 */
public final class ChatGlmTokenizer implements AutoCloseable {

    public static final String MODEL_FILE = "ice_text.model";

    private static final String DJL_CUDA_FORK = "ai.djl.util.cuda.fork";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final SpTokenizer sp;
    private final SpProcessor processor;
    private final SentencePieceVocabulary vocabulary;
    private final ChatGlmSpecialTokens special;

    private ChatGlmTokenizer(SpTokenizer sp, SentencePieceVocabulary vocabulary, ChatGlmSpecialTokens special) {
        this.sp = sp;
        this.processor = sp.getProcessor();
        this.vocabulary = vocabulary;
        this.special = special;
    }

    /** Opens {@code dir/ice_text.model} and resolves the special ids from the snapshot's config files. */
    public static ChatGlmTokenizer open(Path dir) {
        Path model = dir.resolve(MODEL_FILE);
        if (!Files.exists(model)) throw new IllegalArgumentException(dir + ": no " + MODEL_FILE);
        requirePlainText(dir.resolve("tokenizer_config.json"));
        SentencePieceVocabulary vocabulary = SentencePieceVocabulary.read(model);
        ChatGlmSpecialTokens special = ChatGlmSpecialTokens.resolve(dir, vocabulary::id);
        // DJL's platform detection queries CUDA through its own libcudart in this process, which breaks libtorch's
        // kernel launches afterwards (see SegmentTokenizer); fork makes DJL ask in a child JVM.
        if (System.getProperty(DJL_CUDA_FORK) == null) System.setProperty(DJL_CUDA_FORK, "true");
        try {
            return new ChatGlmTokenizer(new SpTokenizer(model), vocabulary, special);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(model + ": cannot load SentencePiece model: " + e.getMessage(), e);
        }
    }

    /** Model ids of {@code text}: preprocessing, SentencePiece with its dummy prefix, plus the offset. No special tokens. */
    public int[] encode(String text) {
        int[] ids = processor.encode(ChatGlmWhitespace.encode(text));
        for (int i = 0; i < ids.length; i++) ids[i] += special.offset();
        return ids;
    }

    /** The prompt TEXT as the model reads it: {@link #encode} then {@code [gMASK]} {@code <sop>}. */
    public int[] encodePrompt(String text) {
        int[] ids = encode(text);
        int[] out = Arrays.copyOf(ids, ids.length + 2);
        out[ids.length] = special.gmask();
        out[ids.length + 1] = special.sop();
        return out;
    }

    /**
     * The continuation (QUERY·ANSWER) after {@code <sop>}: a new SentencePiece text, so it starts with the
     * dummy-prefix piece, as in the model's generation. The same ids as {@link #encode}; the name says the role.
     */
    public int[] encodeContinuation(String text) {
        return encode(text);
    }

    /**
     * Text of model ids, as {@code SPTokenizer.decode}: ids below the offset (image tokens) are dropped,
     * SentencePiece's decoding of the rest (control pieces such as {@code <ENC>} to nothing), the markers become
     * whitespace again. An id past the vocabulary is an error naming it.
     */
    public String decode(int[] ids) {
        int[] pieces = Arrays.stream(ids).map(i -> i - special.offset()).filter(i -> i >= 0).toArray();
        return ChatGlmWhitespace.decode(vocabulary.decode(pieces));
    }

    public int gmaskId() {
        return special.gmask();
    }

    public int sopId() {
        return special.sop();
    }

    public int eopId() {
        return special.eop();
    }

    public int maskId() {
        return special.mask();
    }

    /** The image-token offset between SentencePiece ids and model ids (0 for the current revision, 20000 before). */
    public int offset() {
        return special.offset();
    }

    @Override
    public void close() {
        sp.close();
    }

    /** The published class lower-cases or squeezes spaces when these are set; ChatGLM-6B sets neither. */
    private static void requirePlainText(Path tokenizerConfig) {
        if (!Files.exists(tokenizerConfig)) return;
        JsonNode tok;
        try {
            tok = JSON.readTree(tokenizerConfig.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(tokenizerConfig + ": cannot read: " + e.getMessage(), e);
        }
        for (String field : new String[] {"remove_space", "do_lower_case"}) {
            if (tok.path(field).asBoolean(false)) {
                throw new IllegalArgumentException(tokenizerConfig + ": " + field + " is true, which this tokenizer does not support");
            }
        }
    }
}
