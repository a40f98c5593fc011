package dkv.scorers.model;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * An HF snapshot directory: {@code config.json}, {@code tokenizer.json} and the safetensors weights (one file
 * or shards with {@code model.safetensors.index.json}). Opening reads the config and the weight headers only.
 */
public record ModelSnapshot(Path dir, ModelConfig config, SafetensorsIndex weights) {

    public static ModelSnapshot open(Path dir) {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("model directory " + dir + " does not exist");
        Path config = dir.resolve("config.json");
        if (!Files.exists(config)) throw new IllegalArgumentException(dir + ": no config.json (not an HF snapshot)");
        return new ModelSnapshot(dir, ModelConfig.read(config), SafetensorsIndex.open(dir));
    }

    /** Opens this snapshot's {@code tokenizer.json}. */
    public SegmentTokenizer openTokenizer() {
        return SegmentTokenizer.open(dir);
    }

    /**
     * What identifies these weights in records: the commit of an HF cache snapshot
     * ({@code .../snapshots/<commit>/}), else a fingerprint (SHA-256, 16 hex digits) of {@code config.json},
     * {@code tokenizer.json} and every weight's name, dtype, shape and byte range. The fingerprint reads no
     * weight bytes, so it changes with the layout of the files, not with values rewritten in place.
     */
    public String revision() {
        Path parent = dir.toAbsolutePath().getParent();
        if (parent != null && parent.getFileName() != null && parent.getFileName().toString().equals("snapshots")) {
            return dir.getFileName().toString();
        }
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(Files.readAllBytes(dir.resolve("config.json")));
            Path tokenizer = dir.resolve("tokenizer.json");
            if (Files.exists(tokenizer)) sha.update(Files.readAllBytes(tokenizer));
            weights.entries().values().stream().sorted(java.util.Comparator.comparing(SafetensorsIndex.Entry::name))
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
}
