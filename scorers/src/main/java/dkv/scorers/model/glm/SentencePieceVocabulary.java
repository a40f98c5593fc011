package dkv.scorers.model.glm;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The pieces of a SentencePiece {@code .model} (its ModelProto, read at the protobuf wire level) and
 * SentencePiece's decoding over them. Decoding is done here rather than through the native binding because DJL's
 * JNI returns strings as modified UTF-8, which garbles characters outside the BMP (an emoji decoded from its byte
 * pieces came back as "ð").
 */
public final class SentencePieceVocabulary {

    /** ModelProto.SentencePiece.Type. */
    public enum Type { NORMAL, UNKNOWN, CONTROL, USER_DEFINED, BYTE, UNUSED }

    private static final String SPACE = "\u2581";
    private static final String DEFAULT_UNK_SURFACE = " \u2047 ";

    private final Path file;
    private final List<String> pieces;
    private final List<Type> types;
    private final Map<String, Integer> ids = new HashMap<>();
    private final boolean stripLeadingSpace;
    private final String unkSurface;

    private SentencePieceVocabulary(Path file, List<String> pieces, List<Type> types, boolean stripLeadingSpace, String unkSurface) {
        this.file = file;
        this.pieces = List.copyOf(pieces);
        this.types = List.copyOf(types);
        for (int i = 0; i < pieces.size(); i++) ids.putIfAbsent(pieces.get(i), i);
        this.stripLeadingSpace = stripLeadingSpace;
        this.unkSurface = unkSurface;
    }

    /** Reads the pieces, their types and the flags decoding depends on. */
    public static SentencePieceVocabulary read(Path model) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(model);
        } catch (IOException e) {
            throw new IllegalArgumentException(model + ": cannot read: " + e.getMessage(), e);
        }
        List<String> pieces = new ArrayList<>();
        List<Type> types = new ArrayList<>();
        boolean addDummyPrefix = true;
        boolean removeExtraWhitespaces = true;
        String unkSurface = DEFAULT_UNK_SURFACE;
        Wire proto = new Wire(ByteBuffer.wrap(bytes), model, "ModelProto");
        while (proto.more()) {
            int tag = proto.tag();
            switch (tag) {
                case (1 << 3) | 2 -> { // pieces
                    Wire p = proto.message("pieces[" + pieces.size() + "]");
                    String piece = null;
                    Type type = Type.NORMAL;
                    while (p.more()) {
                        int t = p.tag();
                        if (t == ((1 << 3) | 2)) piece = p.string();
                        else if (t == ((3 << 3))) type = type(p.varint(), model, pieces.size());
                        else p.skip(t);
                    }
                    if (piece == null) throw new IllegalArgumentException(model + ": pieces[" + pieces.size() + "] has no text");
                    if (type == Type.BYTE && !piece.matches("<0x[0-9A-F]{2}>")) {
                        throw new IllegalArgumentException(model + ": pieces[" + pieces.size() + "] is a byte piece named " + piece);
                    }
                    pieces.add(piece);
                    types.add(type);
                }
                case (2 << 3) | 2 -> { // trainer_spec
                    Wire t = proto.message("trainer_spec");
                    while (t.more()) {
                        int f = t.tag();
                        if (f == ((44 << 3) | 2)) {
                            unkSurface = t.string();
                        } else if (f == (24 << 3)) {
                            // pieces would end with ▁ instead of starting with it: decoding here does not handle that
                            if (t.varint() != 0) {
                                throw new IllegalArgumentException(model + ": trainer_spec.treat_whitespace_as_suffix is not supported");
                            }
                        } else {
                            t.skip(f);
                        }
                    }
                }
                case (3 << 3) | 2 -> { // normalizer_spec
                    Wire n = proto.message("normalizer_spec");
                    while (n.more()) {
                        int f = n.tag();
                        if (f == (3 << 3)) addDummyPrefix = n.varint() != 0;
                        else if (f == (4 << 3)) removeExtraWhitespaces = n.varint() != 0;
                        else n.skip(f);
                    }
                }
                default -> proto.skip(tag);
            }
        }
        if (pieces.isEmpty()) throw new IllegalArgumentException(model + ": not a SentencePiece model (no pieces)");
        return new SentencePieceVocabulary(model, pieces, types, addDummyPrefix || removeExtraWhitespaces, unkSurface);
    }

    public int size() {
        return pieces.size();
    }

    /** The id of {@code piece}, or -1 when the model has no such piece. */
    public int id(String piece) {
        return ids.getOrDefault(piece, -1);
    }

    public String piece(int id) {
        return pieces.get(check(id));
    }

    public Type type(int id) {
        return types.get(check(id));
    }

    /**
     * Text of SentencePiece ids, as SentencePiece's DecodeIds: control pieces vanish, the unknown piece shows as its
     * surface, runs of byte pieces become the UTF-8 text they spell (U+FFFD per malformed byte), ▁ becomes a space,
     * and the dummy-prefix space of the first visible piece is dropped.
     */
    public String decode(int[] ids) {
        StringBuilder text = new StringBuilder();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (int id : ids) {
            Type type = type(id);
            if (type == Type.BYTE) {
                bytes.write(Integer.parseInt(pieces.get(id).substring(3, 5), 16));
                continue;
            }
            flushBytes(bytes, text);
            switch (type) {
                case CONTROL -> { }
                case UNKNOWN -> text.append(unkSurface);
                default -> appendPiece(pieces.get(id), text);
            }
        }
        flushBytes(bytes, text);
        return text.toString();
    }

    private void appendPiece(String piece, StringBuilder text) {
        if (text.isEmpty() && stripLeadingSpace && piece.startsWith(SPACE)) piece = piece.substring(SPACE.length());
        text.append(piece.replace(SPACE, " "));
    }

    /**
     * SentencePiece decodes a byte run character by character, each byte of a malformed sequence to one U+FFFD, and
     * appends the result as is (no ▁ handling, unlike other pieces).
     */
    private void flushBytes(ByteArrayOutputStream bytes, StringBuilder text) {
        if (bytes.size() == 0) return;
        byte[] b = bytes.toByteArray();
        bytes.reset();
        int i = 0;
        while (i < b.length) {
            int len = utf8Length(b, i);
            if (len == 0) {
                text.append('\uFFFD');
                i++;
            } else {
                text.append(new String(b, i, len, StandardCharsets.UTF_8));
                i += len;
            }
        }
    }

    /** Length of the well-formed UTF-8 character at {@code b[i]}, or 0 when it is malformed. */
    private static int utf8Length(byte[] b, int i) {
        int lead = b[i] & 0xFF;
        int len = lead < 0x80 ? 1 : lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3
                : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
        if (len == 0 || i + len > b.length) return 0;
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(b, i, len));
            return len;
        } catch (CharacterCodingException e) {
            return 0;
        }
    }

    private int check(int id) {
        if (id < 0 || id >= pieces.size()) {
            throw new IllegalArgumentException(file + ": piece id " + id + " outside the vocabulary of " + pieces.size());
        }
        return id;
    }

    private static Type type(long value, Path model, int index) {
        return switch ((int) value) {
            case 1 -> Type.NORMAL;
            case 2 -> Type.UNKNOWN;
            case 3 -> Type.CONTROL;
            case 4 -> Type.USER_DEFINED;
            case 5 -> Type.UNUSED;
            case 6 -> Type.BYTE;
            default -> throw new IllegalArgumentException(model + ": pieces[" + index + "] has unknown type " + value);
        };
    }

    /** Protobuf wire format, the little this class needs: tags, varints, length-delimited fields, skipping. */
    private static final class Wire {
        private final ByteBuffer in;
        private final Path file;
        private final String where;

        Wire(ByteBuffer in, Path file, String where) {
            this.in = in.order(ByteOrder.LITTLE_ENDIAN);
            this.file = file;
            this.where = where;
        }

        boolean more() {
            return in.hasRemaining();
        }

        int tag() {
            long tag = varint();
            if (tag <= 0 || tag > Integer.MAX_VALUE) throw bad("bad field tag " + tag);
            return (int) tag;
        }

        long varint() {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (!in.hasRemaining()) throw bad("truncated varint");
                byte b = in.get();
                v |= (long) (b & 0x7F) << shift;
                if ((b & 0x80) == 0) return v;
            }
            throw bad("varint longer than 10 bytes");
        }

        ByteBuffer bytes() {
            long n = varint();
            if (n < 0 || n > in.remaining()) throw bad("length " + n + " past the end");
            ByteBuffer slice = in.slice(in.position(), (int) n);
            in.position(in.position() + (int) n);
            return slice;
        }

        Wire message(String name) {
            return new Wire(bytes(), file, name);
        }

        String string() {
            return StandardCharsets.UTF_8.decode(bytes()).toString();
        }

        void skip(int tag) {
            switch (tag & 7) {
                case 0 -> varint();
                case 1 -> advance(8);
                case 2 -> bytes();
                case 5 -> advance(4);
                default -> throw bad("unsupported wire type " + (tag & 7) + " of field " + (tag >>> 3));
            }
        }

        private void advance(int n) {
            if (in.remaining() < n) throw bad("truncated field");
            in.position(in.position() + n);
        }

        private IllegalArgumentException bad(String what) {
            return new IllegalArgumentException(file + ": not a SentencePiece model (" + where + ": " + what + ")");
        }
    }
}
