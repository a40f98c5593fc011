package dkv.scorers.torch;

/**
 * Element types the runtime moves between Java and libtorch. The integer codes libtorch uses are not
 * hard-coded: {@link TorchAbi} reads them from the shim's {@code aoti_torch_dtype_*} functions at load.
 */
public enum DType {
    FLOAT32(4, "float32"),
    BFLOAT16(2, "bfloat16"),
    FLOAT16(2, "float16"),
    FLOAT64(8, "float64"),
    INT64(8, "int64"),
    INT32(4, "int32"),
    BOOL(1, "bool");

    private final int elementSize;
    private final String label;

    DType(int elementSize, String label) {
        this.elementSize = elementSize;
        this.label = label;
    }

    /** Bytes per element. */
    public int elementSize() {
        return elementSize;
    }

    /** True for the floating types (the ones softmax, matmul and attention accept). */
    public boolean isFloatingPoint() {
        return this == FLOAT32 || this == BFLOAT16 || this == FLOAT16 || this == FLOAT64;
    }

    /** True for 16-bit floats, whose intermediate math the runtime does in float32. */
    public boolean isReducedPrecision() {
        return this == BFLOAT16 || this == FLOAT16;
    }

    /** Parses {@code float32|fp32|bfloat16|bf16|float16|fp16|half|float64|int64|int32|bool}. */
    public static DType parse(String text) {
        return switch (text.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "float32", "fp32", "float" -> FLOAT32;
            case "bfloat16", "bf16" -> BFLOAT16;
            case "float16", "fp16", "half" -> FLOAT16;
            case "float64", "fp64", "double" -> FLOAT64;
            case "int64", "long" -> INT64;
            case "int32", "int" -> INT32;
            case "bool" -> BOOL;
            default -> throw new IllegalArgumentException("unknown dtype '" + text
                    + "' (expected float32, bfloat16, float16, float64, int64, int32 or bool)");
        };
    }

    @Override
    public String toString() {
        return label;
    }
}
