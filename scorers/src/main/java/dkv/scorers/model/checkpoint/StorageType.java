package dkv.scorers.model.checkpoint;

import java.util.Optional;

/**
 * The storage classes a torch checkpoint names in its persistent ids ({@code torch.HalfStorage}, …), each with
 * its element size and its dtype in safetensors' spelling, so that checkpoint entries read like safetensors ones.
 */
public enum StorageType {
    HALF("HalfStorage", "F16", 2),
    FLOAT("FloatStorage", "F32", 4),
    BFLOAT16("BFloat16Storage", "BF16", 2),
    DOUBLE("DoubleStorage", "F64", 8),
    LONG("LongStorage", "I64", 8),
    INT("IntStorage", "I32", 4),
    SHORT("ShortStorage", "I16", 2),
    CHAR("CharStorage", "I8", 1),
    BYTE("ByteStorage", "U8", 1),
    BOOL("BoolStorage", "BOOL", 1),
    /** What torch saves for a bare {@code UntypedStorage}; torch itself loads it as uint8. */
    UNTYPED("UntypedStorage", "U8", 1);

    private final String className;
    private final String dtype;
    private final int elementSize;

    StorageType(String className, String dtype, int elementSize) {
        this.className = className;
        this.dtype = dtype;
        this.elementSize = elementSize;
    }

    /** The class name in module {@code torch}, e.g. {@code HalfStorage}. */
    public String className() {
        return className;
    }

    /** The dtype in safetensors' spelling: {@code F16}, {@code F32}, {@code BF16}, … */
    public String dtype() {
        return dtype;
    }

    public int elementSize() {
        return elementSize;
    }

    /** The storage type that {@code torch.<name>} names, if it is one. */
    public static Optional<StorageType> ofClassName(String name) {
        for (StorageType t : values()) {
            if (t.className.equals(name)) return Optional.of(t);
        }
        return Optional.empty();
    }
}
