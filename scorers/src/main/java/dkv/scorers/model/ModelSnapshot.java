package dkv.scorers.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dkv.scorers.model.checkpoint.TorchCheckpointIndex;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * An HF snapshot directory as users download it: {@code config.json} (kept raw: each family parses its own typed
 * config, see {@link ConfigFields}), the tokenizer files and the weights. Opening reads the config only; the
 * weight headers (safetensors, else a PyTorch {@code .bin} checkpoint) are read when a family asks for {@link #weights()}.
 */
public final class ModelSnapshot {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Files whose bytes decide token ids, in the fingerprint: an HF tokenizer, or ChatGLM's SentencePiece model. */
    private static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "ice_text.model");

    private final Path dir;
    private final ConfigFields config;
    private WeightIndex weights;

    private ModelSnapshot(Path dir, ConfigFields config) {
        this.dir = dir;
        this.config = config;
    }

    public static ModelSnapshot open(Path dir) {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("model directory " + dir + " does not exist");
        Path file = dir.resolve("config.json");
        if (!Files.exists(file)) throw new IllegalArgumentException(dir + ": no config.json (not an HF snapshot)");
        JsonNode node;
        try {
            node = JSON.readTree(Files.readString(file));
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read config.json: " + e.getMessage(), e);
        }
        if (node == null || !node.isObject()) throw new IllegalArgumentException(file + ": not a JSON object");
        return new ModelSnapshot(dir, new ConfigFields(file, node));
    }

    public Path dir() {
        return dir;
    }

    /** The raw {@code config.json}. */
    public ConfigFields config() {
        return config;
    }

    /** HF {@code model_type} ("" when absent). */
    public String modelType() {
        return config.text("model_type", "");
    }

    /** HF {@code architectures} (empty when absent). */
    public List<String> architectures() {
        return config.texts("architectures");
    }

    /**
     * The weights, headers read once: safetensors (one file or shards with {@code model.safetensors.index.json}), or,
     * when the snapshot has none, its PyTorch checkpoint ({@code pytorch_model.bin} or shards with
     * {@code pytorch_model.bin.index.json}, read without executing the pickles), as ChatGLM-6B ships.
     */
    public synchronized WeightIndex weights() {
        if (weights == null) {
            boolean safetensors = Files.exists(dir.resolve("model.safetensors"))
                    || Files.exists(dir.resolve("model.safetensors.index.json"));
            // with neither format present, SafetensorsIndex's error names what is missing
            weights = !safetensors && TorchCheckpointIndex.present(dir) ? TorchCheckpointIndex.open(dir) : SafetensorsIndex.open(dir);
        }
        return weights;
    }

    /** Opens this snapshot's {@code tokenizer.json}. */
    public SegmentTokenizer openTokenizer() {
        return SegmentTokenizer.open(dir);
    }

    /**
     * What identifies these weights in records: the commit of an HF cache snapshot
     * ({@code .../snapshots/<commit>/}), else a fingerprint (SHA-256, 16 hex digits) of {@code config.json}, the
     * tokenizer file ({@code tokenizer.json}, or ChatGLM's {@code ice_text.model}) and every weight's name, dtype,
     * shape and byte range. The fingerprint reads no weight bytes, so it changes with the layout of the files, not
     * with values rewritten in place.
     */
    public String revision() {
        Path parent = dir.toAbsolutePath().getParent();
        if (parent != null && parent.getFileName() != null && parent.getFileName().toString().equals("snapshots")) {
            return dir.getFileName().toString();
        }
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(Files.readAllBytes(dir.resolve("config.json")));
            for (String name : TOKENIZER_FILES) {
                Path tokenizer = dir.resolve(name);
                if (Files.exists(tokenizer)) sha.update(Files.readAllBytes(tokenizer));
            }
            weights().entries().values().stream().sorted(java.util.Comparator.comparing(SafetensorsIndex.Entry::name))
                    .forEach(e -> sha.update((e.name() + " " + e.dtype() + " " + Arrays.toString(e.shape()) + " "
                            + e.file().getFileName() + " " + e.offset() + " " + e.length() + "\n").getBytes(StandardCharsets.UTF_8)));
            return HexFormat.of().formatHex(sha.digest(), 0, 8);
        } catch (IOException e) {
            throw new IllegalArgumentException(dir + ": cannot fingerprint the snapshot: " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A short name for records and logs: the directory name. */
    public String name() {
        return dir.getFileName() == null ? dir.toString() : dir.getFileName().toString();
    }

    @Override
    public String toString() {
        return "ModelSnapshot[" + dir + ", " + modelType() + " " + architectures() + "]";
    }
}
