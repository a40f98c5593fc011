package dkv.scorers.model.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The directory of a zip whose records are STORED, as {@code torch.save} writes them: each record's name and the
 * absolute byte range of its data in the file, so the data can be mapped in place. Only the central directory and
 * the local headers are read. ZIP64 (files or offsets past 4 GiB) is followed; compressed or encrypted records are
 * refused, since a mapped range must be the bytes themselves.
 */
final class StoredZip {

    /** One record: {@code dataOffset} is absolute in the file. */
    record Record(String name, long dataOffset, long size) {}

    private static final int EOCD = 0x06054b50;
    private static final int ZIP64_LOCATOR = 0x07064b50;
    private static final int ZIP64_EOCD = 0x06064b50;
    private static final int CENTRAL = 0x02014b50;
    private static final int LOCAL = 0x04034b50;
    private static final int EOCD_SIZE = 22;
    private static final long MAX_DIRECTORY = 256L << 20;

    private StoredZip() {}

    /** The records of {@code file}, in directory order. */
    static Map<String, Record> read(FileChannel ch, Path file) throws IOException {
        long size = ch.size();
        long eocdAt = findEndOfDirectory(ch, size, file);
        ByteBuffer eocd = readAt(ch, eocdAt, EOCD_SIZE);
        long count = Short.toUnsignedInt(eocd.getShort(10));
        long dirSize = Integer.toUnsignedLong(eocd.getInt(12));
        long dirAt = Integer.toUnsignedLong(eocd.getInt(16));
        if (count == 0xFFFF || dirSize == 0xFFFFFFFFL || dirAt == 0xFFFFFFFFL) {
            if (eocdAt < 20) throw notZip(file, "ZIP64 locator missing");
            ByteBuffer locator = readAt(ch, eocdAt - 20, 20);
            if (locator.getInt(0) != ZIP64_LOCATOR) throw notZip(file, "ZIP64 locator missing");
            long z64At = locator.getLong(8);
            if (z64At < 0 || z64At + 56 > size) throw notZip(file, "ZIP64 record outside the file");
            ByteBuffer z64 = readAt(ch, z64At, 56);
            if (z64.getInt(0) != ZIP64_EOCD) throw notZip(file, "bad ZIP64 end record");
            count = z64.getLong(32);
            dirSize = z64.getLong(40);
            dirAt = z64.getLong(48);
        }
        if (dirAt < 0 || dirSize < 0 || dirSize > MAX_DIRECTORY || dirAt + dirSize > eocdAt) {
            throw notZip(file, "central directory outside the file");
        }
        ByteBuffer dir = readAt(ch, dirAt, (int) dirSize);
        Map<String, Record> records = new LinkedHashMap<>();
        int p = 0;
        for (long i = 0; i < count; i++) {
            if (p + 46 > dir.limit() || dir.getInt(p) != CENTRAL) throw notZip(file, "central directory entry " + i + " is damaged");
            int flags = Short.toUnsignedInt(dir.getShort(p + 8));
            int method = Short.toUnsignedInt(dir.getShort(p + 10));
            long compressed = Integer.toUnsignedLong(dir.getInt(p + 20));
            long length = Integer.toUnsignedLong(dir.getInt(p + 24));
            int nameLength = Short.toUnsignedInt(dir.getShort(p + 28));
            int extraLength = Short.toUnsignedInt(dir.getShort(p + 30));
            int commentLength = Short.toUnsignedInt(dir.getShort(p + 32));
            long localAt = Integer.toUnsignedLong(dir.getInt(p + 42));
            if (p + 46 + nameLength + extraLength > dir.limit()) throw notZip(file, "central directory entry " + i + " is damaged");
            byte[] nameBytes = new byte[nameLength];
            dir.get(p + 46, nameBytes);
            String name = new String(nameBytes, StandardCharsets.UTF_8);
            // ZIP64 extra field: the 8-byte values follow in this order, each only where the 4-byte one is saturated
            int e = p + 46 + nameLength;
            int extraEnd = e + extraLength;
            while (e + 4 <= extraEnd) {
                int id = Short.toUnsignedInt(dir.getShort(e));
                int len = Short.toUnsignedInt(dir.getShort(e + 2));
                if (id == 0x0001) {
                    int q = e + 4;
                    if (length == 0xFFFFFFFFL) { length = dir.getLong(q); q += 8; }
                    if (compressed == 0xFFFFFFFFL) { compressed = dir.getLong(q); q += 8; }
                    if (localAt == 0xFFFFFFFFL) localAt = dir.getLong(q);
                }
                e += 4 + len;
            }
            if ((flags & 1) != 0) throw new IllegalArgumentException(file + ": zip record " + name + " is encrypted");
            if (method != 0 || compressed != length) {
                throw new IllegalArgumentException(file + ": zip record " + name + " is compressed (method " + method
                        + "); torch checkpoints store records uncompressed so they can be mapped");
            }
            records.put(name, new Record(name, dataOffset(ch, localAt, length, size, name, file), length));
            p += 46 + nameLength + extraLength + commentLength;
        }
        return records;
    }

    /** The local header's name and extra lengths may differ from the central ones (torch pads the extra field). */
    private static long dataOffset(FileChannel ch, long localAt, long length, long size, String name, Path file)
            throws IOException {
        if (localAt < 0 || localAt + 30 > size) throw notZip(file, "record " + name + " starts outside the file");
        ByteBuffer local = readAt(ch, localAt, 30);
        if (local.getInt(0) != LOCAL) throw notZip(file, "record " + name + " has no local header");
        long at = localAt + 30 + Short.toUnsignedInt(local.getShort(26)) + Short.toUnsignedInt(local.getShort(28));
        if (at + length > size) throw notZip(file, "record " + name + " runs past the end of the file (truncated?)");
        return at;
    }

    private static long findEndOfDirectory(FileChannel ch, long size, Path file) throws IOException {
        if (size < EOCD_SIZE) throw notZip(file, size + " bytes");
        int tail = (int) Math.min(size, EOCD_SIZE + 0xFFFF);
        ByteBuffer buf = readAt(ch, size - tail, tail);
        for (int i = tail - EOCD_SIZE; i >= 0; i--) {
            if (buf.getInt(i) == EOCD && i + EOCD_SIZE + Short.toUnsignedInt(buf.getShort(i + 20)) == tail) {
                return size - tail + i;
            }
        }
        throw notZip(file, "no end-of-central-directory record: truncated, or not a zip (legacy torch.save format?)");
    }

    static ByteBuffer readAt(FileChannel ch, long position, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        while (buf.hasRemaining()) {
            int n = ch.read(buf, position + buf.position());
            if (n < 0) throw new IOException("unexpected end of file at byte " + (position + buf.position()));
        }
        return buf.flip();
    }

    private static IllegalArgumentException notZip(Path file, String why) {
        return new IllegalArgumentException(file + ": not a readable torch zip checkpoint (" + why + ")");
    }
}
