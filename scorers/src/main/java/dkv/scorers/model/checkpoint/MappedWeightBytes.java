package dkv.scorers.model.checkpoint;

import dkv.scorers.model.SafetensorsIndex;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * The bytes of weight entries (safetensors or torch checkpoint ones alike) as read-only slices of the mapped
 * files: nothing is copied onto the Java heap. Each file is mapped once, on first use; the slices are valid until
 * {@link #close()}, so a tensor wrapping one (e.g. {@code Tensors.fromBlob}) must be closed first.
 */
public final class MappedWeightBytes implements AutoCloseable {

    private final Arena arena = Arena.ofShared();
    private final Map<Path, MemorySegment> mapped = new HashMap<>();

    /** The little-endian bytes of {@code e}: {@code e.length()} bytes from {@code e.offset()} of {@code e.file()}. */
    public synchronized MemorySegment bytes(SafetensorsIndex.Entry e) {
        MemorySegment file = mapped.computeIfAbsent(e.file(), f -> {
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                return ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            } catch (IOException ex) {
                throw new IllegalArgumentException(f + ": cannot map: " + ex.getMessage(), ex);
            }
        });
        if (e.offset() < 0 || e.offset() + e.length() > file.byteSize()) {
            throw new IllegalArgumentException(e.file() + ": tensor '" + e.name() + "' lies outside the file ("
                    + file.byteSize() + " bytes; has it changed since it was indexed?)");
        }
        return file.asSlice(e.offset(), e.length()).asReadOnly();
    }

    /** Unmaps the files. */
    @Override
    public void close() {
        arena.close();
    }
}
