package dkv.scorers.model.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dkv.scorers.model.SafetensorsIndex;
import dkv.scorers.model.WeightIndex;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Where every weight of a snapshot's PyTorch checkpoint lies: one {@code pytorch_model.bin}, or the shards that
 * {@code pytorch_model.bin.index.json}'s {@code weight_map} names. The same queries as {@link SafetensorsIndex}
 * (entries, contains, entry) with the same {@link SafetensorsIndex.Entry} records, so a loader that maps entries
 * takes either. The index's {@code total_size} is not read: it is stale in real snapshots (ChatGLM-6B's).
 */
public final class TorchCheckpointIndex implements WeightIndex {

    public static final String SINGLE = "pytorch_model.bin";
    public static final String INDEX = "pytorch_model.bin.index.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final Map<String, SafetensorsIndex.Entry> entries;
    private final Map<String, PickledTensor> tensors;

    private TorchCheckpointIndex(Path dir, Map<String, SafetensorsIndex.Entry> entries, Map<String, PickledTensor> tensors) {
        this.dir = dir;
        this.entries = Collections.unmodifiableMap(entries);
        this.tensors = Collections.unmodifiableMap(tensors);
    }

    /** True when {@code dir} holds a PyTorch checkpoint this class can open. */
    public static boolean present(Path dir) {
        return Files.exists(dir.resolve(INDEX)) || Files.exists(dir.resolve(SINGLE));
    }

    /** Reads the zip directories and state dicts of the snapshot's checkpoint files. */
    public static TorchCheckpointIndex open(Path dir) {
        Path index = dir.resolve(INDEX);
        Path single = dir.resolve(SINGLE);
        Map<String, SafetensorsIndex.Entry> entries = new LinkedHashMap<>();
        Map<String, PickledTensor> tensors = new LinkedHashMap<>();
        if (Files.exists(index)) {
            Map<String, String> weightMap = weightMap(index);
            // each shard once, in name order; then the map and the shards must agree tensor for tensor
            for (String shard : new java.util.TreeSet<>(weightMap.values())) {
                Path file = dir.resolve(shard);
                if (!Files.exists(file)) throw new IllegalArgumentException(index + ": shard " + shard + " does not exist");
                add(TorchCheckpointFile.read(file), entries, tensors);
            }
            for (Map.Entry<String, String> w : weightMap.entrySet()) {
                SafetensorsIndex.Entry e = entries.get(w.getKey());
                if (e == null || !e.file().getFileName().toString().equals(w.getValue())) {
                    throw new IllegalArgumentException(index + ": weight_map puts '" + w.getKey() + "' in " + w.getValue()
                            + ", which has no such tensor" + (e == null ? "" : " (it is in " + e.file().getFileName() + ")"));
                }
            }
        } else if (Files.exists(single)) {
            add(TorchCheckpointFile.read(single), entries, tensors);
        } else {
            throw new IllegalArgumentException(dir + ": no " + SINGLE + " or " + INDEX);
        }
        return new TorchCheckpointIndex(dir, entries, tensors);
    }

    @Override
    public Map<String, SafetensorsIndex.Entry> entries() {
        return entries;
    }

    @Override
    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    /** The entry of a weight; a missing one is an error naming the weight and the snapshot. */
    @Override
    public SafetensorsIndex.Entry entry(String name) {
        SafetensorsIndex.Entry e = entries.get(name);
        if (e == null) throw new IllegalArgumentException("weight '" + name + "' not found in the PyTorch checkpoint of " + dir);
        return e;
    }

    /** How a weight was pickled (storage key, offset, strides, parameter or not). */
    public PickledTensor pickled(String name) {
        entry(name);
        return tensors.get(name);
    }

    private static void add(TorchCheckpointFile file, Map<String, SafetensorsIndex.Entry> entries,
                            Map<String, PickledTensor> tensors) {
        for (SafetensorsIndex.Entry e : file.entries().values()) {
            SafetensorsIndex.Entry before = entries.putIfAbsent(e.name(), e);
            if (before != null) {
                throw new IllegalArgumentException(e.file() + ": tensor '" + e.name() + "' is also in " + before.file());
            }
        }
        tensors.putAll(file.tensors());
    }

    private static Map<String, String> weightMap(Path index) {
        JsonNode map;
        try {
            map = JSON.readTree(index.toFile()).get("weight_map");
        } catch (IOException e) {
            throw new IllegalArgumentException(index + ": cannot read: " + e.getMessage(), e);
        }
        if (map == null || !map.isObject()) throw new IllegalArgumentException(index + ": missing field weight_map");
        Map<String, String> out = new TreeMap<>();
        map.properties().forEach(e -> {
            if (!e.getValue().isTextual() || e.getValue().asText().contains("/") || e.getValue().asText().contains("\\")) {
                throw new IllegalArgumentException(index + ": weight_map." + e.getKey() + " is not a file name in the snapshot");
            }
            out.put(e.getKey(), e.getValue().asText());
        });
        return out;
    }
}
