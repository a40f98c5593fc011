package dkv.scorers.model.checkpoint;

import java.util.Arrays;

/**
 * A tensor as a torch state dict pickles it: a view (shape, strides, offset in elements) over a storage that
 * lives in the checkpoint's zip as the record {@code data/<storageKey>}. {@code parameter} tells an
 * {@code nn.Parameter} from a plain tensor (the bytes are read the same way).
 */
public record PickledTensor(StorageType storage, String storageKey, long storageNumel, long storageOffset,
                            long[] shape, long[] strides, boolean parameter) {

    /** Number of elements of the view. */
    public long numel() {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    /**
     * True when the view's elements are one row-major run in the storage (torch's definition: strides of
     * size-1 dimensions do not matter, nor any stride of an empty tensor).
     */
    public boolean isContiguous() {
        if (numel() == 0) return true;
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    PickledTensor asParameter() {
        return new PickledTensor(storage, storageKey, storageNumel, storageOffset, shape, strides, true);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PickledTensor t && storage == t.storage && storageKey.equals(t.storageKey)
                && storageNumel == t.storageNumel && storageOffset == t.storageOffset
                && Arrays.equals(shape, t.shape) && Arrays.equals(strides, t.strides) && parameter == t.parameter;
    }

    @Override
    public int hashCode() {
        return 31 * (31 * storageKey.hashCode() + Long.hashCode(storageOffset)) + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return storage.dtype() + Arrays.toString(shape) + " strides " + Arrays.toString(strides) + " at "
                + storageOffset + " of storage " + storageKey + (parameter ? " (parameter)" : "");
    }
}
