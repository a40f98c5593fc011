package dkv.producers.surrogate;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A model's vocabulary: the ids of its ordinary tokens, read from {@code tokenizer.json}, and the model's
 * own tokenizer (DJL, no truncation or padding) to turn ids back into text and count a text's tokens. Special
 * tokens are left out, and so are tokens that do not decode to clean text on their own (byte-level fragments of a
 * multi-byte character decode to U+FFFD, control bytes to control characters): a random-token surrogate is then
 * valid text whose every token the model knows. A ChatGLM-6B snapshot has no {@code tokenizer.json}; its
 * {@code ice_text.model} is read instead ({@link ChatGlmPieces}).
 */
public final class TokenVocabulary {
    /** Loading decodes every token once; conditions and plans sharing a model share the result. */
    private static final Map<Path, TokenVocabulary> LOADED = new ConcurrentHashMap<>();

    /** What the model's own tokenizer does for surrogates. */
    interface Tokenizer {
        String decode(long[] ids);

        /** Tokens of {@code text} alone, without the special tokens a model adds around a sequence. */
        int count(String text);
    }

    private final long[] ids;
    private final Tokenizer tokenizer;

    TokenVocabulary(long[] ids, Tokenizer tokenizer) {
        this.ids = ids;
        this.tokenizer = tokenizer;
    }

    public static TokenVocabulary of(Path modelDir) {
        return LOADED.computeIfAbsent(modelDir.toAbsolutePath().normalize(), TokenVocabulary::load);
    }

    private static TokenVocabulary load(Path modelDir) {
        Path file = modelDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file) && Files.isRegularFile(modelDir.resolve(ChatGlmPieces.MODEL_FILE))) {
            return ChatGlmPieces.load(modelDir.resolve(ChatGlmPieces.MODEL_FILE));
        }
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(modelDir + ": no tokenizer.json (nor ChatGLM's "
                    + ChatGlmPieces.MODEL_FILE + ") in the model directory");
        }
        JsonNode json;
        try {
            json = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read tokenizer: " + e.getMessage(), e);
        }
        Set<Long> special = new HashSet<>();
        for (JsonNode added : json.path("added_tokens")) {
            if (added.path("special").asBoolean(false)) {
                special.add(added.path("id").asLong());
            }
        }
        JsonNode vocab = json.path("model").path("vocab");
        TreeSet<Long> ordinary = new TreeSet<>();
        if (vocab.isObject()) {
            for (Map.Entry<String, JsonNode> entry : vocab.properties()) {
                ordinary.add(entry.getValue().asLong());
            }
        } else if (vocab.isArray()) {
            for (long id = 0; id < vocab.size(); id++) {
                ordinary.add(id);
            }
        } else {
            throw new IllegalArgumentException(file + ": field 'model.vocab': expected a token map or a list");
        }
        ordinary.removeAll(special);
        if (ordinary.isEmpty()) {
            throw new IllegalArgumentException(file + ": field 'model.vocab': no ordinary tokens");
        }
        HuggingFaceTokenizer tokenizer;
        try {
            tokenizer = HuggingFaceTokenizer.newInstance(file,
                    Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "false"));
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot load tokenizer: " + e.getMessage(), e);
        }
        long[][] singles = ordinary.stream().map(id -> new long[] {id}).toArray(long[][]::new);
        String[] texts = tokenizer.batchDecode(singles, true);
        long[] clean = java.util.stream.IntStream.range(0, singles.length).filter(i -> isClean(texts[i]))
                .mapToLong(i -> singles[i][0]).toArray();
        if (clean.length == 0) {
            throw new IllegalArgumentException(file + ": no token of the vocabulary decodes to clean text on its own");
        }
        return new TokenVocabulary(clean, new Tokenizer() {
            @Override
            public String decode(long[] tokenIds) {
                return tokenizer.decode(tokenIds, true);
            }

            @Override
            public int count(String text) {
                return tokenizer.encode(text, false, false).getIds().length;
            }
        });
    }

    static boolean isClean(String text) {
        return !text.isBlank() && text.codePoints().noneMatch(c -> c == 0xFFFD || Character.isISOControl(c));
    }

    public int size() {
        return ids.length;
    }

    /** The id of the i-th ordinary token (ids sorted ascending). */
    public long id(int index) {
        return ids[index];
    }

    public String decode(long[] tokenIds) {
        return tokenizer.decode(tokenIds);
    }

    /** How many tokens the model's tokenizer makes of {@code text} on its own (no BOS or other special tokens). */
    public int count(String text) {
        return tokenizer.count(text);
    }
}
