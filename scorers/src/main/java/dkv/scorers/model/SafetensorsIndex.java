package dkv.scorers.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * Where every weight of a snapshot lies: file, dtype, shape and byte range, read from the safetensors headers
 * (one {@code model.safetensors}, or the shards named by {@code model.safetensors.index.json}). Only headers are
 * read here; the bytes are mapped later straight into tensors.
 */
public final class SafetensorsIndex implements WeightIndex {

    /** One tensor's location. {@code offset} is absolute in {@code file}. */
    public record Entry(String name, Path file, String dtype, long[] shape, long offset, long length) {}

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_HEADER = 100L << 20;

    private final Map<String, Entry> entries;

    private SafetensorsIndex(Map<String, Entry> entries) {
        this.entries = Collections.unmodifiableMap(entries);
    }

    /** Reads the headers of the snapshot's weight files. */
    public static SafetensorsIndex open(Path dir) {
        Path index = dir.resolve("model.safetensors.index.json");
        Path single = dir.resolve("model.safetensors");
        Map<String, Entry> entries = new LinkedHashMap<>();
        if (Files.exists(index)) {
            TreeSet<String> shards = new TreeSet<>();
            try {
                JsonNode map = JSON.readTree(index.toFile()).get("weight_map");
                if (map == null) throw new IllegalArgumentException(index + ": missing field weight_map");
                map.properties().forEach(e -> shards.add(e.getValue().asText()));
            } catch (IOException e) {
                throw new IllegalArgumentException(index + ": cannot read: " + e.getMessage(), e);
            }
            for (String shard : shards) readHeader(dir.resolve(shard), entries);
        } else if (Files.exists(single)) {
            readHeader(single, entries);
        } else {
            throw new IllegalArgumentException(dir + ": no model.safetensors or model.safetensors.index.json");
        }
        return new SafetensorsIndex(entries);
    }

    @Override
    public Map<String, Entry> entries() {
        return entries;
    }

    @Override
    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    /** The entry of a weight; a missing one is an error naming the weight and the snapshot. */
    @Override
    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            Path anyFile = entries.values().stream().findFirst().map(Entry::file).orElse(null);
            throw new IllegalArgumentException("weight '" + name + "' not found in safetensors"
                    + (anyFile == null ? "" : " of " + anyFile.getParent()));
        }
        return e;
    }

    private static void readHeader(Path file, Map<String, Entry> into) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0);
            long headerLen = len.flip().getLong();
            if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > ch.size()) {
                throw new IllegalArgumentException(file + ": not a safetensors file (header length " + headerLen + ")");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            readFully(ch, header, 8);
            JsonNode root = JSON.readTree(header.array());
            long dataStart = 8 + headerLen;
            for (Iterator<Map.Entry<String, JsonNode>> it = root.properties().iterator(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getKey().equals("__metadata__")) continue;
                JsonNode t = e.getValue();
                JsonNode shapeNode = t.get("shape");
                long[] shape = new long[shapeNode.size()];
                for (int i = 0; i < shape.length; i++) shape[i] = shapeNode.get(i).asLong();
                long begin = t.get("data_offsets").get(0).asLong();
                long end = t.get("data_offsets").get(1).asLong();
                if (end < begin || dataStart + end > ch.size()) {
                    throw new IllegalArgumentException(file + ": tensor " + e.getKey() + " has data offsets outside the file");
                }
                into.put(e.getKey(), new Entry(e.getKey(), file, t.get("dtype").asText(), shape, dataStart + begin, end - begin));
            }
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read safetensors header: " + e.getMessage(), e);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, position + buf.position());
            if (n < 0) throw new IOException("unexpected end of file");
        }
    }
}
