package dkv.producers.dataset;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Checks that a file really is Parquet before DuckDB reads it. A repository cloned without Git LFS leaves a
 * 130-byte pointer text in place of each Parquet file; DuckDB would only say "no magic bytes", so the pointer
 * is named for what it is.
 */
final class ParquetFile {
    private static final byte[] MAGIC = "PAR1".getBytes(StandardCharsets.US_ASCII);
    private static final String LFS_POINTER = "version https://git-lfs.github.com/spec/";

    private ParquetFile() {}

    static void require(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("dataset file not found: " + file);
        }
        byte[] head;
        try (InputStream in = Files.newInputStream(file)) {
            head = in.readNBytes(LFS_POINTER.length());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (new String(head, StandardCharsets.US_ASCII).equals(LFS_POINTER)) {
            throw new IllegalArgumentException(file + ": a Git LFS pointer, not the Parquet file: fetch the data "
                    + "(git lfs pull, or download the file itself) and pass that");
        }
        if (head.length < MAGIC.length || !java.util.Arrays.equals(head, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            throw new IllegalArgumentException(file + ": not a Parquet file (it does not start with PAR1)");
        }
    }
}
