package dkv.scorers.model;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * Reads weights straight from the mapped weight files (safetensors or PyTorch {@code .bin}, see {@link WeightIndex})
 * into tensors on the target device and dtype: the bytes never pass through the Java heap. Where no cast or move is
 * needed (float32 weights on CPU) the tensor is the mapping itself, so the mapping lives as long as this loader (the
 * model).
 */
public final class WeightLoader implements AutoCloseable {

    private final WeightIndex index;
    private final Device device;
    private final DType dtype;
    private final Arena arena = Arena.ofShared();
    private final Map<Path, MemorySegment> mapped = new HashMap<>();

    public WeightLoader(WeightIndex index, Device device, DType dtype) {
        this.index = index;
        this.device = device;
        this.dtype = dtype;
    }

    public boolean contains(String name) {
        return index.contains(name);
    }

    /** The weight {@code name} as a tensor of the model's dtype on its device, checked against {@code shape}. */
    public Tensor load(String name, long... shape) {
        SafetensorsIndex.Entry e = index.entry(name);
        if (!java.util.Arrays.equals(e.shape(), shape)) {
            throw new IllegalArgumentException(e.file() + ": weight " + name + " has shape "
                    + java.util.Arrays.toString(e.shape()) + ", config.json implies " + java.util.Arrays.toString(shape));
        }
        DType stored = storedType(e);
        MemorySegment bytes = map(e.file()).asSlice(e.offset(), e.length());
        if (bytes.address() % stored.elementSize() != 0) {
            MemorySegment aligned = arena.allocate(e.length(), stored.elementSize());
            aligned.copyFrom(bytes);
            bytes = aligned;
        }
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor raw = Tensors.fromBlob(bytes, stored, e.shape());
            result = scope.keep(Ops.to(raw, dtype, device));
        }
        return result;
    }

    /**
     * Several projections' tensors ({@code prefix + name + "." + suffix}) concatenated along dim 0, so that one GEMM
     * computes them all. The parts are freed as soon as they are copied, so loading peaks at one layer's worth of
     * extra memory, not a model's.
     */
    public Tensor fused(String prefix, String suffix, String[] names, long[] rows, long... cols) {
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor[] parts = new Tensor[names.length];
            for (int i = 0; i < names.length; i++) {
                long[] shape = new long[1 + cols.length];
                shape[0] = rows[i];
                System.arraycopy(cols, 0, shape, 1, cols.length);
                parts[i] = load(prefix + names[i] + "." + suffix, shape);
            }
            result = scope.keep(Ops.cat(0, parts));
        }
        return result;
    }

    private static DType storedType(SafetensorsIndex.Entry e) {
        return switch (e.dtype()) {
            case "F32" -> DType.FLOAT32;
            case "BF16" -> DType.BFLOAT16;
            case "F16" -> DType.FLOAT16;
            case "F64" -> DType.FLOAT64;
            default -> throw new IllegalArgumentException(e.file() + ": weight " + e.name() + " has dtype " + e.dtype()
                    + " (supported: F32, BF16, F16, F64)");
        };
    }

    private MemorySegment map(Path file) {
        return mapped.computeIfAbsent(file, f -> {
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                return ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            } catch (IOException ex) {
                throw new IllegalArgumentException(f + ": cannot map: " + ex.getMessage(), ex);
            }
        });
    }

    /** Unmaps the files; every tensor loaded from them must be closed first. */
    @Override
    public void close() {
        arena.close();
    }
}
