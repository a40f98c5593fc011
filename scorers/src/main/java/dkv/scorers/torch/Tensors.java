package dkv.scorers.torch;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Making tensors from Java data and reading them back. New tensors belong to the current {@link TensorScope}
 * (or the caller). Host arrays are copied; {@link #fromBlob} wraps native memory without a copy.
 */
public final class Tensors {

    private Tensors() {
    }

    /** Row-major strides for {@code shape}. */
    public static long[] contiguousStrides(long[] shape) {
        long[] strides = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            strides[i] = s;
            s *= Math.max(shape[i], 1);
        }
        return strides;
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long s : shape) {
            if (s < 0) {
                throw new IllegalArgumentException("negative size in shape " + Arrays.toString(shape));
            }
            n *= s;
        }
        return n;
    }

    private static void checkLength(int length, long[] shape) {
        if (numel(shape) != length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + numel(shape)
                    + " elements but " + length + " were given");
        }
    }

    /** Uninitialized contiguous tensor. */
    public static Tensor empty(DType dtype, Device device, long... shape) {
        TorchAbi abi = TorchRuntime.abi();
        return Tensor.adopt(abi.emptyStrided(shape, contiguousStrides(shape), abi.code(dtype),
                abi.deviceTypeCode(device), abi.deviceIndexCode(device)));
    }

    /** A 0-dim float64 CPU tensor (libtorch lets CPU scalars meet tensors on any device). */
    public static Tensor scalar(double value) {
        return Tensor.adopt(TorchRuntime.abi().scalarTensor(value));
    }

    /** A float32 CPU tensor holding a copy of {@code data}. */
    public static Tensor fromFloats(float[] data, long... shape) {
        checkLength(data.length, shape);
        Tensor t = empty(DType.FLOAT32, Device.cpu(), shape);
        MemorySegment.copy(data, 0, t.dataPointer().reinterpret(4L * data.length), JAVA_FLOAT, 0, data.length);
        return t;
    }

    /** An int64 CPU tensor holding a copy of {@code data} (token ids, positions, indices). */
    public static Tensor fromLongs(long[] data, long... shape) {
        checkLength(data.length, shape);
        Tensor t = empty(DType.INT64, Device.cpu(), shape);
        MemorySegment.copy(data, 0, t.dataPointer().reinterpret(8L * data.length), JAVA_LONG, 0, data.length);
        return t;
    }

    /** A bool CPU tensor holding a copy of {@code data} (attention masks: true = may attend). */
    public static Tensor fromBooleans(boolean[] data, long... shape) {
        checkLength(data.length, shape);
        Tensor t = empty(DType.BOOL, Device.cpu(), shape);
        MemorySegment dst = t.dataPointer().reinterpret(data.length);
        for (int i = 0; i < data.length; i++) {
            dst.set(JAVA_BYTE, i, data[i] ? (byte) 1 : (byte) 0);
        }
        return t;
    }

    /**
     * Wraps contiguous native memory (e.g. an mmapped safetensors region) as a CPU tensor without copying.
     * The tensor does not own the memory: {@code data} must stay valid until the tensor and every view or
     * alias of it are closed.
     */
    public static Tensor fromBlob(MemorySegment data, DType dtype, long... shape) {
        long bytes = numel(shape) * dtype.elementSize();
        if (data.byteSize() < bytes) {
            throw new IllegalArgumentException("fromBlob: shape " + Arrays.toString(shape) + " of " + dtype
                    + " needs " + bytes + " bytes, the segment has " + data.byteSize());
        }
        if (data.address() % dtype.elementSize() != 0) {
            throw new IllegalArgumentException("fromBlob: address " + data.address() + " is not aligned to "
                    + dtype.elementSize() + " bytes for " + dtype);
        }
        TorchAbi abi = TorchRuntime.abi();
        return Tensor.adopt(abi.fromBlob(data, shape, contiguousStrides(shape), abi.code(dtype),
                abi.deviceTypeCode(Device.cpu()), abi.deviceIndexCode(Device.cpu())));
    }

    /** A contiguous CPU tensor of {@code dtype} with t's values: t itself (as a new handle) when it already is one. */
    private static Tensor hostCopy(Tensor t, DType dtype) {
        if (t.device().equals(Device.cpu()) && t.dtype() == dtype && t.isContiguous()) {
            return Tensor.adopt(TorchRuntime.abi().newAlias(t.handle()));
        }
        Tensor out = empty(dtype, Device.cpu(), t.shape());
        TorchRuntime.abi().copyInto(out.handle(), t.handle());
        return out;
    }

    /** Values of any floating tensor, on any device, as float32, row-major. */
    public static float[] toFloatArray(Tensor t) {
        try (Tensor h = hostCopy(t, DType.FLOAT32)) {
            long n = h.numel();
            return h.dataPointer().reinterpret(4L * n).toArray(JAVA_FLOAT);
        }
    }

    /** Values of an integer tensor, on any device, as int64, row-major. */
    public static long[] toLongArray(Tensor t) {
        try (Tensor h = hostCopy(t, DType.INT64)) {
            long n = h.numel();
            return h.dataPointer().reinterpret(8L * n).toArray(JAVA_LONG);
        }
    }

    /** Values as float64, row-major (exact for float32/bfloat16/float16 sources). */
    public static double[] toDoubleArray(Tensor t) {
        try (Tensor h = hostCopy(t, DType.FLOAT64)) {
            long n = h.numel();
            return h.dataPointer().reinterpret(8L * n).toArray(JAVA_DOUBLE);
        }
    }
}
