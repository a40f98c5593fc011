package dkv.scorers.model.glm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.ToIntFunction;

/**
 * The model ids of ChatGLM-6B's special tokens and the offset between SentencePiece ids and model ids.
 *
 * <p>The first published revision put 20000 image tokens before the text vocabulary (config vocab_size 150528,
 * [gMASK] = 150001); the current one dropped them (130528, [gMASK] = 130001) and says
 * {@code "num_image_tokens": 0} in tokenizer_config.json. The offset is read from the snapshot, never assumed:
 * tokenizer_config.json's {@code num_image_tokens}, else config.json's {@code gmask_token_id} minus the
 * SentencePiece id of {@code [gMASK]}. The token ids are their pieces' ids plus the offset (as the published
 * {@code SPTokenizer.__getitem__} and chatglm.cpp resolve them), and must agree with config.json's
 * {@code mask_token_id}, {@code gmask_token_id}, {@code bos_token_id} (&lt;sop&gt;) and {@code eos_token_id}
 * (&lt;eop&gt;) where it states them.
 */
public record ChatGlmSpecialTokens(int offset, int mask, int gmask, int sop, int eop) {

    public static final String MASK = "[MASK]";
    public static final String GMASK = "[gMASK]";
    public static final String SOP = "<sop>";
    public static final String EOP = "<eop>";

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Resolves the ids for the snapshot {@code dir}. {@code pieceId} gives a piece's SentencePiece id, or -1 when the
     * model has no such piece.
     */
    public static ChatGlmSpecialTokens resolve(Path dir, ToIntFunction<String> pieceId) {
        Path tokenizerConfig = dir.resolve("tokenizer_config.json");
        Path config = dir.resolve("config.json");
        JsonNode tok = readIfPresent(tokenizerConfig);
        JsonNode cfg = readIfPresent(config);
        int gmaskPiece = piece(pieceId, GMASK, dir);
        int offset;
        JsonNode stated = tok.get("num_image_tokens");
        if (stated != null) {
            if (!stated.canConvertToInt() || stated.asInt() < 0) {
                throw new IllegalArgumentException(tokenizerConfig + ": num_image_tokens is " + stated + ", not a count");
            }
            offset = stated.asInt();
        } else if (cfg.hasNonNull("gmask_token_id")) {
            offset = cfg.get("gmask_token_id").asInt() - gmaskPiece;
            if (offset < 0) {
                throw new IllegalArgumentException(config + ": gmask_token_id " + cfg.get("gmask_token_id")
                        + " is below the [gMASK] piece id " + gmaskPiece);
            }
        } else {
            throw new IllegalArgumentException(dir + ": cannot tell the image-token id offset: " + tokenizerConfig.getFileName()
                    + " has no num_image_tokens and " + config.getFileName() + " no gmask_token_id");
        }
        ChatGlmSpecialTokens ids = new ChatGlmSpecialTokens(offset, offset + piece(pieceId, MASK, dir),
                offset + gmaskPiece, offset + piece(pieceId, SOP, dir), offset + piece(pieceId, EOP, dir));
        agree(cfg, config, "mask_token_id", MASK, ids.mask(), offset);
        agree(cfg, config, "gmask_token_id", GMASK, ids.gmask(), offset);
        agree(cfg, config, "bos_token_id", SOP, ids.sop(), offset);
        agree(cfg, config, "eos_token_id", EOP, ids.eop(), offset);
        return ids;
    }

    private static int piece(ToIntFunction<String> pieceId, String piece, Path dir) {
        int id = pieceId.applyAsInt(piece);
        if (id < 0) throw new IllegalArgumentException(dir.resolve(ChatGlmTokenizer.MODEL_FILE) + ": no piece " + piece);
        return id;
    }

    private static void agree(JsonNode cfg, Path config, String field, String piece, int id, int offset) {
        JsonNode stated = cfg.get(field);
        if (stated != null && !stated.isNull() && stated.asInt() != id) {
            throw new IllegalArgumentException(config + ": " + field + " is " + stated + " but " + piece + " is id " + id
                    + " (piece " + (id - offset) + " + offset " + offset + ")");
        }
    }

    private static JsonNode readIfPresent(Path file) {
        if (!Files.exists(file)) return JSON.createObjectNode();
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage(), e);
        }
    }
}
