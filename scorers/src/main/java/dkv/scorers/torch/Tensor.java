package dkv.scorers.torch;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An owned libtorch tensor handle. Closing it releases the handle (and the memory, once no other handle or
 * view refers to the storage). Tensors made while a {@link TensorScope} is open belong to that scope; others
 * belong to the caller. Nothing waits for the GC: a handle that is never closed is a leak, visible in
 * {@link #liveHandles()}.
 *
 * <p>Metadata (shape, strides, dtype, device) is read from libtorch once, on first use. Not thread-safe.
 */
public final class Tensor implements AutoCloseable {

    private static final AtomicLong LIVE = new AtomicLong();

    private MemorySegment handle;
    private TorchAbi.Meta meta;

    private Tensor(MemorySegment handle) {
        this.handle = handle;
    }

    /** Takes ownership of a new handle returned by libtorch and hands it to the current scope, if any. */
    static Tensor adopt(MemorySegment handle) {
        if (handle == null || handle.equals(MemorySegment.NULL)) {
            throw new TorchException("libtorch returned a null tensor handle");
        }
        Tensor t = new Tensor(handle);
        LIVE.incrementAndGet();
        TensorScope.register(t);
        return t;
    }

    /** Number of tensor handles currently open in this process (for leak checks). */
    public static long liveHandles() {
        return LIVE.get();
    }

    MemorySegment handle() {
        if (handle == null) {
            throw new IllegalStateException("tensor already closed");
        }
        return handle;
    }

    private TorchAbi.Meta meta() {
        if (meta == null) {
            meta = TorchRuntime.abi().meta(handle());
        }
        return meta;
    }

    /** Sizes per dimension (a copy). */
    public long[] shape() {
        return meta().sizes().clone();
    }

    /** Size of dimension {@code dim}; negative counts from the end. */
    public long size(int dim) {
        return meta().sizes()[normalizeDim(dim)];
    }

    /** Strides per dimension in elements (a copy). */
    public long[] strides() {
        return meta().strides().clone();
    }

    /** Offset of the first element in the storage, in elements. */
    public long storageOffset() {
        return meta().storageOffset();
    }

    public int dim() {
        return meta().sizes().length;
    }

    public long numel() {
        long n = 1;
        for (long s : meta().sizes()) {
            n *= s;
        }
        return n;
    }

    public DType dtype() {
        return TorchRuntime.abi().dtype(meta().dtype());
    }

    public Device device() {
        return TorchRuntime.abi().device(meta().deviceType(), meta().deviceIndex());
    }

    /** True when elements are laid out row-major without gaps (sizes-1 dims ignored, as torch does). */
    public boolean isContiguous() {
        long[] sizes = meta().sizes();
        long[] strides = meta().strides();
        long expected = 1;
        for (int i = sizes.length - 1; i >= 0; i--) {
            if (sizes[i] != 1) {
                if (strides[i] != expected) {
                    return false;
                }
                expected *= sizes[i];
            }
        }
        return true;
    }

    /** Address of element 0 (storage offset applied). Valid while this tensor is open. */
    public MemorySegment dataPointer() {
        return TorchRuntime.abi().dataPtr(handle());
    }

    int normalizeDim(int dim) {
        int n = dim();
        int d = dim < 0 ? dim + n : dim;
        if (d < 0 || d >= n) {
            throw new IndexOutOfBoundsException("dim " + dim + " out of range for a " + n + "-d tensor " + this);
        }
        return d;
    }

    public boolean isClosed() {
        return handle == null;
    }

    /** Releases the handle; idempotent. */
    @Override
    public void close() {
        if (handle != null) {
            MemorySegment h = handle;
            handle = null;
            LIVE.decrementAndGet();
            TorchRuntime.abi().delete(h);
        }
    }

    @Override
    public String toString() {
        if (handle == null) {
            return "Tensor[closed]";
        }
        return "Tensor" + Arrays.toString(meta().sizes()) + " " + dtype() + " " + device();
    }
}
