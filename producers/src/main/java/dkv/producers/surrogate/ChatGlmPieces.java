package dkv.producers.surrogate;

import ai.djl.sentencepiece.SpProcessor;
import ai.djl.sentencepiece.SpTokenizer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * ChatGLM-6B's {@code ice_text.model} as a {@link TokenVocabulary}: token counts from SentencePiece (DJL's binding)
 * behind ChatGLM's whitespace markers, as its published {@code tokenization_chatglm.py} does ({@code \n} → {@code <n>},
 * tab → {@code <|tab|>}, runs of 80 down to 2 spaces → {@code <|blank_N|>}, then SentencePiece with its dummy prefix).
 * The scorer's {@code ChatGlmTokenizer} is the full implementation; producers never import scorers, so the three
 * rules a token count needs live here too. The pieces themselves are read from the model file (protobuf
 * {@code ModelProto.pieces}: piece text and type), not through DJL, whose JNI has no piece count and garbles text
 * outside the BMP: ordinary pieces are the NORMAL ones (ChatGLM's markers and specials are USER_DEFINED or CONTROL,
 * bytes BYTE), and decoding joins them with ▁ as a space.
 */
final class ChatGlmPieces {

    static final String MODEL_FILE = "ice_text.model";
    private static final int MAX_BLANK = 80;
    private static final int NORMAL = 1;

    private ChatGlmPieces() {
    }

    static TokenVocabulary load(Path model) {
        List<String> pieces = new ArrayList<>();
        List<Long> ordinary = new ArrayList<>();
        try {
            readPieces(Files.readAllBytes(model), (piece, type) -> {
                String text = piece.replace('▁', ' ');
                if (type == NORMAL && TokenVocabulary.isClean(text)) ordinary.add((long) pieces.size());
                pieces.add(piece);
            });
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(model + ": cannot read SentencePiece model: " + e.getMessage(), e);
        }
        if (ordinary.isEmpty()) throw new IllegalArgumentException(model + ": no ordinary piece in the SentencePiece model");
        // DJL's platform detection would query CUDA in this process, which breaks libtorch's kernel launches when a
        // scorer shares the JVM (dkv demo; see the scorer's SegmentTokenizer): let it ask in a child JVM
        if (System.getProperty("ai.djl.util.cuda.fork") == null) System.setProperty("ai.djl.util.cuda.fork", "true");
        SpProcessor processor;
        try {
            processor = new SpTokenizer(model).getProcessor();  // kept for the process, like the cached vocabulary
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(model + ": cannot load SentencePiece model: " + e.getMessage(), e);
        }
        return new TokenVocabulary(ordinary.stream().mapToLong(Long::longValue).toArray(), new TokenVocabulary.Tokenizer() {
            @Override
            public String decode(long[] ids) {
                StringBuilder text = new StringBuilder();
                for (long id : ids) text.append(pieces.get((int) id));
                return text.toString().replace('▁', ' ').strip();
            }

            @Override
            public int count(String text) {
                return text.isEmpty() ? 0 : processor.encode(markWhitespace(text)).length;
            }
        });
    }

    /** The published {@code SPTokenizer._preprocess}: newline, tab, then space runs, longest first. */
    static String markWhitespace(String text) {
        String out = text.replace("\n", "<n>").replace("\t", "<|tab|>");
        for (int n = MAX_BLANK; n >= 2; n--) out = out.replace(" ".repeat(n), "<|blank_" + n + "|>");
        return out;
    }

    /** Each {@code ModelProto.pieces} entry (field 1) in id order: its {@code piece} (field 1) and {@code type} (field 3). */
    static void readPieces(byte[] proto, java.util.function.ObjIntConsumer<String> sink) {
        ByteBuffer in = ByteBuffer.wrap(proto);
        while (in.hasRemaining()) {
            long tag = varint(in);
            if (tag >>> 3 == 1 && (tag & 7) == 2) {
                ByteBuffer entry = lengthDelimited(in);
                String piece = null;
                int type = NORMAL;
                while (entry.hasRemaining()) {
                    long t = varint(entry);
                    if (t >>> 3 == 1 && (t & 7) == 2) {
                        ByteBuffer b = lengthDelimited(entry);
                        piece = StandardCharsets.UTF_8.decode(b).toString();
                    } else if (t >>> 3 == 3 && (t & 7) == 0) {
                        type = (int) varint(entry);
                    } else {
                        skip(entry, (int) (t & 7));
                    }
                }
                if (piece == null) throw new IllegalArgumentException("a piece without text before byte " + in.position());
                sink.accept(piece, type);
            } else {
                skip(in, (int) (tag & 7));
            }
        }
    }

    private static long varint(ByteBuffer in) {
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            byte b = in.get();
            value |= (long) (b & 0x7F) << shift;
            if (b >= 0) return value;
        }
        throw new IllegalArgumentException("malformed varint at byte " + in.position());
    }

    private static ByteBuffer lengthDelimited(ByteBuffer in) {
        int n = Math.toIntExact(varint(in));
        ByteBuffer part = in.slice(in.position(), n);
        in.position(in.position() + n);
        return part;
    }

    private static void skip(ByteBuffer in, int wire) {
        switch (wire) {
            case 0 -> varint(in);
            case 1 -> in.position(in.position() + 8);
            case 2 -> lengthDelimited(in);
            case 5 -> in.position(in.position() + 4);
            default -> throw new IllegalArgumentException("unsupported protobuf wire type " + wire + " at byte " + in.position());
        }
    }
}
