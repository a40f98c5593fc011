package dkv.scorers.torch;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The one place that knows libtorch's C signatures: the stable {@code aoti_torch_*} shim, the generated
 * per-device fallbacks ({@code aoti_torch_cpu_*}/{@code aoti_torch_cuda_*}) and the few C entry points
 * around them (CUDA runtime, thread count, operator new). Every call's error code is checked here and the
 * exception names the op.
 *
 * <p>Only symbols exported by both libtorch 2.7.1 and 2.13 are required, so 2.11 has them too; symbols
 * that only newer versions export ({@code torch_new_stable_ivalue}, {@code torch_exception_get_what*}) are
 * used when present.
 *
 * <p>Dispatcher stacks: each slot is a 64-bit StableIValue. Tensors are consumed (we pass fresh aliases);
 * {@code None} is 0; an optional with a value is a pointer to a heap StableIValue that libtorch deletes —
 * allocated by {@code torch_new_stable_ivalue} where it exists, else by the C++ {@code operator new} that
 * libtorch's own 2.7 headers compile {@code new StableIValue(v)} into.
 */
final class TorchAbi {

    private static final Linker LINKER = Linker.nativeLinker();
    /** Short calls that neither block nor call back into Java (metadata, aliases, views): no thread-state switch. */
    private static final Linker.Option[] FAST = {Linker.Option.critical(false)};
    private static final Linker.Option[] NONE = {};

    /** A dispatcher argument that is an optional with a value (a bare {@code null} is None). */
    record Some(Object value) {
    }

    /** A dispatcher argument of schema type {@code int[]} (libtorch 2.10+: a StableList that libtorch frees). */
    record Ints(long... values) {
    }

    /** A dispatcher argument of schema type {@code str} (libtorch 2.10+: a string handle that libtorch frees). */
    record Str(String value) {
    }

    // --- constants read from the library ---
    final int dtypeFloat32, dtypeBfloat16, dtypeFloat16, dtypeFloat64, dtypeInt64, dtypeInt32, dtypeBool;
    final int deviceTypeCpu, deviceTypeCuda;
    final long abiVersion;

    // --- core shim ---
    private final MethodHandle callDispatcher, newTensorHandle, deleteTensorObject, emptyStrided, copy,
            reinterpretTensor, createTensorFromBlob, getDataPtr, getDim, getSizes, getStrides, getStorageOffset,
            getDtype, getDeviceType, getDeviceIndex, scalarToTensorFloat64;
    /** {@code aoti_torch_<device>_<op>} fallbacks, indexed [device kind][op]. */
    private final MethodHandle[][] deviceOps;
    // --- optional helpers ---
    private final MethodHandle newStableIValue;        // torch_new_stable_ivalue(StableIValue**) — 2.13+
    private final MethodHandle operatorNew;            // void* operator new(size_t) — fallback
    private final MethodHandle newList, listPushBack, newString;  // torch_new_list_reserve_size, … — 2.10+
    private final MethodHandle exceptionWhat;          // const char* torch_exception_get_what_without_backtrace()
    private final MethodHandle setNumThreads, getNumThreads;
    private final MethodHandle cudaGetDeviceCount, cudaDeviceSynchronize, c10DeviceCount, c10DeviceSynchronize;
    /** CUDA events, for the op profile's unserialized timing (optional: a static cudart hides them). */
    private final MethodHandle cudaEventCreate, cudaEventRecord, cudaEventElapsedTime;

    private final Map<String, MemorySegment> cStrings = new ConcurrentHashMap<>();
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);

    /** Generated per-device fallbacks the runtime uses; the order is the index into {@link #deviceOps}. */
    enum DeviceOp {
        ADD_TENSOR("add_Tensor", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_DOUBLE, ADDRESS)),
        ADD_SCALAR("add_Scalar", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_DOUBLE, JAVA_DOUBLE, ADDRESS)),
        MUL_SCALAR("mul_Scalar", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_DOUBLE, ADDRESS)),
        CAT("cat", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));

        final String suffix;
        final FunctionDescriptor descriptor;

        DeviceOp(String suffix, FunctionDescriptor descriptor) {
            this.suffix = suffix;
            this.descriptor = descriptor;
        }
    }

    /** Where symbols come from: libtorch's own libraries, the C++ runtime they link, and the CUDA runtime. */
    record Lookups(SymbolLookup torch, SymbolLookup cxxRuntime, Optional<SymbolLookup> cudaRuntime) {
    }

    private final List<String> missing = new ArrayList<>();
    private final Lookups lookups;

    private TorchAbi(Lookups lookups) {
        this.lookups = lookups;
        MethodHandle dtF32 = required("aoti_torch_dtype_float32", FunctionDescriptor.of(JAVA_INT));
        MethodHandle dtBf16 = required("aoti_torch_dtype_bfloat16", FunctionDescriptor.of(JAVA_INT));
        MethodHandle dtF16 = required("aoti_torch_dtype_float16", FunctionDescriptor.of(JAVA_INT));
        MethodHandle dtF64 = required("aoti_torch_dtype_float64", FunctionDescriptor.of(JAVA_INT));
        MethodHandle dtI64 = required("aoti_torch_dtype_int64", FunctionDescriptor.of(JAVA_INT));
        MethodHandle dtI32 = required("aoti_torch_dtype_int32", FunctionDescriptor.of(JAVA_INT));
        MethodHandle dtBool = required("aoti_torch_dtype_bool", FunctionDescriptor.of(JAVA_INT));
        MethodHandle devCpu = required("aoti_torch_device_type_cpu", FunctionDescriptor.of(JAVA_INT));
        MethodHandle devCuda = required("aoti_torch_device_type_cuda", FunctionDescriptor.of(JAVA_INT));
        MethodHandle abi = required("aoti_torch_abi_version", FunctionDescriptor.of(JAVA_LONG));

        callDispatcher = required("aoti_torch_call_dispatcher",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        newTensorHandle = required("aoti_torch_new_tensor_handle",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), FAST);
        deleteTensorObject = required("aoti_torch_delete_tensor_object", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        emptyStrided = required("aoti_torch_empty_strided", FunctionDescriptor.of(JAVA_INT,
                JAVA_LONG, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        copy = required("aoti_torch_copy_", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        reinterpretTensor = required("aoti_torch__reinterpret_tensor", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS), FAST);
        createTensorFromBlob = required("aoti_torch_create_tensor_from_blob", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        getDataPtr = required("aoti_torch_get_data_ptr", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), FAST);
        getDim = required("aoti_torch_get_dim", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), FAST);
        getSizes = required("aoti_torch_get_sizes", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), FAST);
        getStrides = required("aoti_torch_get_strides", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), FAST);
        getStorageOffset = required("aoti_torch_get_storage_offset",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), FAST);
        getDtype = required("aoti_torch_get_dtype", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), FAST);
        getDeviceType = required("aoti_torch_get_device_type",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), FAST);
        getDeviceIndex = required("aoti_torch_get_device_index",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), FAST);
        scalarToTensorFloat64 = required("aoti_torch_scalar_to_tensor_float64",
                FunctionDescriptor.of(JAVA_INT, JAVA_DOUBLE, ADDRESS));

        boolean cuda = lookups.cudaRuntime().isPresent();
        deviceOps = new MethodHandle[Device.Kind.values().length][DeviceOp.values().length];
        for (DeviceOp op : DeviceOp.values()) {
            deviceOps[Device.Kind.CPU.ordinal()][op.ordinal()] =
                    required("aoti_torch_cpu_" + op.suffix, op.descriptor);
            if (cuda) {
                deviceOps[Device.Kind.CUDA.ordinal()][op.ordinal()] =
                        required("aoti_torch_cuda_" + op.suffix, op.descriptor);
            }
        }

        newStableIValue = optional(lookups.torch(), "torch_new_stable_ivalue",
                FunctionDescriptor.of(JAVA_INT, ADDRESS));
        operatorNew = optional(lookups.cxxRuntime(), "_Znwm", FunctionDescriptor.of(ADDRESS, JAVA_LONG));
        if (newStableIValue == null && operatorNew == null) {
            missing.add("torch_new_stable_ivalue or the C++ runtime's operator new (_Znwm)");
        }
        newList = optional(lookups.torch(), "torch_new_list_reserve_size", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));
        listPushBack = optional(lookups.torch(), "torch_list_push_back", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
        newString = optional(lookups.torch(), "torch_new_string_handle",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS));
        exceptionWhat = optional(lookups.torch(), "torch_exception_get_what_without_backtrace",
                FunctionDescriptor.of(ADDRESS));
        setNumThreads = optional(lookups.torch(), "_ZN2at15set_num_threadsEi", FunctionDescriptor.ofVoid(JAVA_INT));
        getNumThreads = optional(lookups.torch(), "_ZN2at15get_num_threadsEv", FunctionDescriptor.of(JAVA_INT));
        if (cuda) {
            SymbolLookup cudart = lookups.cudaRuntime().get();
            cudaGetDeviceCount = optional(cudart, "cudaGetDeviceCount", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            cudaDeviceSynchronize = optional(cudart, "cudaDeviceSynchronize", FunctionDescriptor.of(JAVA_INT));
            // a libc10_cuda with the CUDA runtime linked in statically hides cudart: use c10's wrappers then
            // (DeviceIndex is int8_t in every libtorch 2.x)
            c10DeviceCount = cudaGetDeviceCount != null ? null
                    : optional(cudart, "_ZN3c104cuda12device_countEv", FunctionDescriptor.of(JAVA_BYTE));
            c10DeviceSynchronize = cudaDeviceSynchronize != null ? null
                    : optional(cudart, "_ZN3c104cuda18device_synchronizeEv", FunctionDescriptor.ofVoid());
            cudaEventCreate = optional(cudart, "cudaEventCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            cudaEventRecord = optional(cudart, "cudaEventRecord", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
            cudaEventElapsedTime = optional(cudart, "cudaEventElapsedTime",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
            if (cudaGetDeviceCount == null && c10DeviceCount == null) {
                missing.add("cudaGetDeviceCount (or c10::cuda::device_count)");
            }
            if (cudaDeviceSynchronize == null && c10DeviceSynchronize == null) {
                missing.add("cudaDeviceSynchronize (or c10::cuda::device_synchronize)");
            }
        } else {
            cudaGetDeviceCount = null;
            cudaDeviceSynchronize = null;
            c10DeviceCount = null;
            c10DeviceSynchronize = null;
            cudaEventCreate = null;
            cudaEventRecord = null;
            cudaEventElapsedTime = null;
        }

        if (!missing.isEmpty()) {
            dtypeFloat32 = dtypeBfloat16 = dtypeFloat16 = dtypeFloat64 = dtypeInt64 = dtypeInt32 = dtypeBool = -1;
            deviceTypeCpu = deviceTypeCuda = -1;
            abiVersion = -1;
            return;
        }
        try {
            dtypeFloat32 = (int) dtF32.invokeExact();
            dtypeBfloat16 = (int) dtBf16.invokeExact();
            dtypeFloat16 = (int) dtF16.invokeExact();
            dtypeFloat64 = (int) dtF64.invokeExact();
            dtypeInt64 = (int) dtI64.invokeExact();
            dtypeInt32 = (int) dtI32.invokeExact();
            dtypeBool = (int) dtBool.invokeExact();
            deviceTypeCpu = (int) devCpu.invokeExact();
            deviceTypeCuda = (int) devCuda.invokeExact();
            abiVersion = (long) abi.invokeExact();
        } catch (Throwable t) {
            throw new TorchException("reading libtorch's dtype/device constants failed", t);
        }
    }

    /**
     * Binds every symbol the runtime uses; throws one {@link TorchException} listing all that are missing.
     *
     * @param where names the library directory in the error message
     */
    static TorchAbi bind(Lookups lookups, String where) {
        TorchAbi abi = new TorchAbi(lookups);
        if (!abi.missing.isEmpty()) {
            throw new TorchException("libtorch at " + where + " lacks " + abi.missing.size()
                    + " function(s) the dkv torch runtime needs: " + String.join(", ", abi.missing)
                    + " (need libtorch >= 2.7 with the AOTInductor C shim)");
        }
        return abi;
    }

    private MethodHandle required(String name, FunctionDescriptor fd, Linker.Option... options) {
        return requiredIn(lookups.torch(), name, fd, options);
    }

    private MethodHandle requiredIn(SymbolLookup lookup, String name, FunctionDescriptor fd,
                                    Linker.Option... options) {
        Optional<MemorySegment> symbol = lookup.find(name);
        if (symbol.isEmpty()) {
            missing.add(name);
            return null;
        }
        return LINKER.downcallHandle(symbol.get(), fd, options.length == 0 ? NONE : options);
    }

    private static MethodHandle optional(SymbolLookup lookup, String name, FunctionDescriptor fd) {
        return lookup.find(name).map(s -> LINKER.downcallHandle(s, fd)).orElse(null);
    }

    // ------------------------------------------------------------------------------------------------
    // codes <-> Java types

    int code(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> dtypeFloat32;
            case BFLOAT16 -> dtypeBfloat16;
            case FLOAT16 -> dtypeFloat16;
            case FLOAT64 -> dtypeFloat64;
            case INT64 -> dtypeInt64;
            case INT32 -> dtypeInt32;
            case BOOL -> dtypeBool;
        };
    }

    DType dtype(int code) {
        for (DType d : DType.values()) {
            if (code(d) == code) {
                return d;
            }
        }
        throw new TorchException("libtorch returned a tensor of dtype code " + code
                + ", which the dkv runtime does not handle");
    }

    int deviceTypeCode(Device device) {
        return device.isCuda() ? deviceTypeCuda : deviceTypeCpu;
    }

    int deviceIndexCode(Device device) {
        return device.isCuda() ? device.index() : -1;
    }

    Device device(int typeCode, int index) {
        if (typeCode == deviceTypeCpu) {
            return Device.cpu();
        }
        if (typeCode == deviceTypeCuda) {
            return Device.cuda(Math.max(index, 0));
        }
        throw new TorchException("libtorch returned a tensor on device type " + typeCode
                + ", which the dkv runtime does not handle");
    }

    // ------------------------------------------------------------------------------------------------
    // per-thread native scratch: out-parameters, dispatcher stacks, int64 arrays. Regions never overlap so
    // a helper used while a stack is being filled cannot clobber it.

    /** Most tensors one {@link #cat} call takes (its list lives in a fixed scratch buffer). */
    static final int MAX_CAT = Scratch.MAX_LIST;

    private static final class Scratch {
        static final int MAX_DIMS = 16;
        static final int MAX_STACK = 32;
        static final int MAX_LIST = 256;
        final MemorySegment out, stack, sizes, strides, handles;

        Scratch() {
            Arena arena = Arena.ofAuto();
            out = arena.allocate(JAVA_LONG, 4);
            stack = arena.allocate(JAVA_LONG, MAX_STACK);
            sizes = arena.allocate(JAVA_LONG, MAX_DIMS);
            strides = arena.allocate(JAVA_LONG, MAX_DIMS);
            handles = arena.allocate(ADDRESS, MAX_LIST);
        }
    }

    private static MemorySegment writeLongs(MemorySegment dst, long[] values) {
        if (values.length > Scratch.MAX_DIMS) {
            throw new IllegalArgumentException("tensors of more than " + Scratch.MAX_DIMS + " dims are not supported");
        }
        MemorySegment.copy(values, 0, dst, JAVA_LONG, 0, values.length);
        return dst;
    }

    private void check(int rc, String what) {
        if (rc != 0) {
            throw new TorchException(what + " failed in libtorch: " + lastError());
        }
    }

    /** The most recent libtorch exception text where the library exposes it (2.10+); 2.7 prints it to stderr. */
    private String lastError() {
        if (exceptionWhat != null) {
            try {
                MemorySegment p = (MemorySegment) exceptionWhat.invokeExact();
                if (!p.equals(MemorySegment.NULL)) {
                    String text = p.reinterpret(1 << 16).getString(0).strip();
                    return text.length() > 2000 ? text.substring(0, 2000) + " …" : text;
                }
            } catch (Throwable ignored) {
                // fall through to the generic message
            }
        }
        return "see the 'Exception in aoti_torch' line libtorch printed on stderr";
    }

    private static TorchException wrap(String what, Throwable t) {
        if (t instanceof TorchException te) {
            return te;
        }
        return new TorchException(what + " failed: " + t, t);
    }

    private MemorySegment cString(String s) {
        return cStrings.computeIfAbsent(s, k -> Arena.global().allocateFrom(k));
    }

    // ------------------------------------------------------------------------------------------------
    // tensor handles

    MemorySegment newAlias(MemorySegment handle) {
        MemorySegment out = scratch.get().out;
        try {
            check((int) newTensorHandle.invokeExact(handle, out), "aoti_torch_new_tensor_handle");
        } catch (Throwable t) {
            throw wrap("aoti_torch_new_tensor_handle", t);
        }
        return out.get(ADDRESS, 0);
    }

    void delete(MemorySegment handle) {
        try {
            check((int) deleteTensorObject.invokeExact(handle), "aoti_torch_delete_tensor_object");
        } catch (Throwable t) {
            throw wrap("aoti_torch_delete_tensor_object", t);
        }
    }

    MemorySegment emptyStrided(long[] sizes, long[] strides, int dtype, int deviceType, int deviceIndex) {
        Scratch s = scratch.get();
        long profiled = OpProfile.begin(this);
        try {
            check((int) emptyStrided.invokeExact((long) sizes.length, writeLongs(s.sizes, sizes),
                    writeLongs(s.strides, strides), dtype, deviceType, deviceIndex, s.out), "aoti_torch_empty_strided");
        } catch (Throwable t) {
            throw wrap("aoti_torch_empty_strided", t);
        }
        OpProfile.end(this, "empty_strided", profiled);
        return s.out.get(ADDRESS, 0);
    }

    void copyInto(MemorySegment dst, MemorySegment src) {
        long profiled = OpProfile.begin(this);
        try {
            check((int) copy.invokeExact(dst, src, 0), "aoti_torch_copy_");
        } catch (Throwable t) {
            throw wrap("aoti_torch_copy_", t);
        }
        OpProfile.end(this, "copy_", profiled);
    }

    /** {@code copy_} with non_blocking: from pinned host memory it is queued on the stream, not waited for. */
    void copyIntoAsync(MemorySegment dst, MemorySegment src) {
        long profiled = OpProfile.begin(this);
        try {
            check((int) copy.invokeExact(dst, src, 1), "aoti_torch_copy_");
        } catch (Throwable t) {
            throw wrap("aoti_torch_copy_", t);
        }
        OpProfile.end(this, "copy_ (non-blocking)", profiled);
    }

    MemorySegment reinterpret(MemorySegment self, long[] sizes, long[] strides, long storageOffsetIncrement) {
        Scratch s = scratch.get();
        try {
            check((int) reinterpretTensor.invokeExact(self, (long) sizes.length, writeLongs(s.sizes, sizes),
                    writeLongs(s.strides, strides), storageOffsetIncrement, s.out), "aoti_torch__reinterpret_tensor");
        } catch (Throwable t) {
            throw wrap("aoti_torch__reinterpret_tensor", t);
        }
        return s.out.get(ADDRESS, 0);
    }

    MemorySegment fromBlob(MemorySegment data, long[] sizes, long[] strides, int dtype, int deviceType,
                           int deviceIndex) {
        Scratch s = scratch.get();
        try {
            check((int) createTensorFromBlob.invokeExact(data, (long) sizes.length, writeLongs(s.sizes, sizes),
                            writeLongs(s.strides, strides), 0L, dtype, deviceType, deviceIndex, s.out),
                    "aoti_torch_create_tensor_from_blob");
        } catch (Throwable t) {
            throw wrap("aoti_torch_create_tensor_from_blob", t);
        }
        return s.out.get(ADDRESS, 0);
    }

    MemorySegment scalarTensor(double value) {
        MemorySegment out = scratch.get().out;
        try {
            check((int) scalarToTensorFloat64.invokeExact(value, out), "aoti_torch_scalar_to_tensor_float64");
        } catch (Throwable t) {
            throw wrap("aoti_torch_scalar_to_tensor_float64", t);
        }
        return out.get(ADDRESS, 0);
    }

    MemorySegment dataPtr(MemorySegment handle) {
        MemorySegment out = scratch.get().out;
        try {
            check((int) getDataPtr.invokeExact(handle, out), "aoti_torch_get_data_ptr");
        } catch (Throwable t) {
            throw wrap("aoti_torch_get_data_ptr", t);
        }
        return out.get(ADDRESS, 0);
    }

    /** Tensor metadata as libtorch reports it. */
    record Meta(long[] sizes, long[] strides, long storageOffset, int dtype, int deviceType, int deviceIndex) {
    }

    Meta meta(MemorySegment handle) {
        MemorySegment out = scratch.get().out;
        try {
            check((int) getDim.invokeExact(handle, out), "aoti_torch_get_dim");
            int ndim = (int) out.get(JAVA_LONG, 0);
            check((int) getSizes.invokeExact(handle, out), "aoti_torch_get_sizes");
            long[] sizes = out.get(ADDRESS, 0).reinterpret(8L * ndim).toArray(JAVA_LONG);
            check((int) getStrides.invokeExact(handle, out), "aoti_torch_get_strides");
            long[] strides = out.get(ADDRESS, 0).reinterpret(8L * ndim).toArray(JAVA_LONG);
            check((int) getStorageOffset.invokeExact(handle, out), "aoti_torch_get_storage_offset");
            long offset = out.get(JAVA_LONG, 0);
            check((int) getDtype.invokeExact(handle, out), "aoti_torch_get_dtype");
            int dtype = out.get(JAVA_INT, 0);
            check((int) getDeviceType.invokeExact(handle, out), "aoti_torch_get_device_type");
            int deviceType = out.get(JAVA_INT, 0);
            check((int) getDeviceIndex.invokeExact(handle, out), "aoti_torch_get_device_index");
            int deviceIndex = out.get(JAVA_INT, 0);
            return new Meta(sizes, strides, offset, dtype, deviceType, deviceIndex);
        } catch (Throwable t) {
            throw wrap("reading tensor metadata", t);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // generated per-device fallbacks

    private MethodHandle deviceOp(DeviceOp op, Device.Kind kind) {
        MethodHandle h = deviceOps[kind.ordinal()][op.ordinal()];
        if (h == null) {
            throw new TorchException("aoti_torch_" + kind.name().toLowerCase(java.util.Locale.ROOT) + "_" + op.suffix
                    + " is not available: this libtorch has no " + kind + " support");
        }
        return h;
    }

    MemorySegment addTensor(Device.Kind kind, MemorySegment a, MemorySegment b, double alpha) {
        MemorySegment out = scratch.get().out;
        long profiled = OpProfile.begin(this);
        try {
            check((int) deviceOp(DeviceOp.ADD_TENSOR, kind).invokeExact(a, b, alpha, out), "add.Tensor");
        } catch (Throwable t) {
            throw wrap("add.Tensor", t);
        }
        OpProfile.end(this, "add.Tensor", profiled);
        return out.get(ADDRESS, 0);
    }

    MemorySegment addScalar(Device.Kind kind, MemorySegment a, double other) {
        MemorySegment out = scratch.get().out;
        long profiled = OpProfile.begin(this);
        try {
            check((int) deviceOp(DeviceOp.ADD_SCALAR, kind).invokeExact(a, other, 1.0, out), "add.Scalar");
        } catch (Throwable t) {
            throw wrap("add.Scalar", t);
        }
        OpProfile.end(this, "add.Scalar", profiled);
        return out.get(ADDRESS, 0);
    }

    MemorySegment mulScalar(Device.Kind kind, MemorySegment a, double other) {
        MemorySegment out = scratch.get().out;
        long profiled = OpProfile.begin(this);
        try {
            check((int) deviceOp(DeviceOp.MUL_SCALAR, kind).invokeExact(a, other, out), "mul.Scalar");
        } catch (Throwable t) {
            throw wrap("mul.Scalar", t);
        }
        OpProfile.end(this, "mul.Scalar", profiled);
        return out.get(ADDRESS, 0);
    }

    MemorySegment cat(Device.Kind kind, MemorySegment[] handles, long dim) {
        Scratch s = scratch.get();
        if (handles.length > Scratch.MAX_LIST) {
            throw new IllegalArgumentException("cat of more than " + Scratch.MAX_LIST + " tensors");
        }
        for (int i = 0; i < handles.length; i++) {
            s.handles.setAtIndex(ADDRESS, i, handles[i]);
        }
        long profiled = OpProfile.begin(this);
        try {
            check((int) deviceOp(DeviceOp.CAT, kind).invokeExact(s.handles, (long) handles.length, dim, s.out),
                    "cat");
        } catch (Throwable t) {
            throw wrap("cat", t);
        }
        OpProfile.end(this, "cat", profiled);
        return s.out.get(ADDRESS, 0);
    }

    // ------------------------------------------------------------------------------------------------
    // the boxed dispatcher

    /**
     * Calls {@code op.overload} through {@code aoti_torch_call_dispatcher}. Arguments, in schema order:
     * {@link MemorySegment} (a tensor handle: an alias is passed, the caller keeps its own), {@link Long} or
     * {@link Integer}, {@link Double}, {@link Boolean}, {@code null} (None) or {@link Some} (an optional with
     * a value). Every argument of the schema must be given. Returns the first {@code nReturns} stack slots,
     * each a new tensor handle the caller owns.
     */
    MemorySegment[] call(String op, String overload, int nReturns, Object... args) {
        Scratch s = scratch.get();
        if (args.length > Scratch.MAX_STACK) {
            throw new IllegalArgumentException(op + ": too many arguments");
        }
        MemorySegment stack = s.stack;
        for (int i = 0; i < args.length; i++) {
            stack.setAtIndex(JAVA_LONG, i, stableIValue(args[i], op));
        }
        String what = overload.isEmpty() ? op : op + "." + overload;
        long profiled = OpProfile.begin(this);
        try {
            check((int) callDispatcher.invokeExact(cString(op), cString(overload), stack), what);
        } catch (Throwable t) {
            throw wrap(what, t);
        }
        OpProfile.end(this, what, profiled);
        MemorySegment[] results = new MemorySegment[nReturns];
        for (int i = 0; i < nReturns; i++) {
            results[i] = MemorySegment.ofAddress(stack.getAtIndex(JAVA_LONG, i));
        }
        return results;
    }

    private long stableIValue(Object arg, String op) {
        return switch (arg) {
            case null -> 0L;
            case MemorySegment handle -> newAlias(handle).address();
            case Long l -> l;
            case Integer i -> (long) i;
            case Double d -> Double.doubleToRawLongBits(d);
            case Boolean b -> b ? 1L : 0L;
            case Ints(long[] values) -> newIntList(values, op);
            case Str(String value) -> newStringHandle(value, op);
            case Some(Object inner) -> {
                if (inner == null) {
                    throw new IllegalArgumentException(op + ": Some(null) is not a value; pass null for None");
                }
                MemorySegment boxed = newHeapStableIValue();
                boxed.set(JAVA_LONG, 0, stableIValue(inner, op));
                yield boxed.address();
            }
            default -> throw new IllegalArgumentException(op + ": unsupported dispatcher argument " + arg.getClass());
        };
    }

    /**
     * Whether the dispatcher takes {@link Ints} and {@link Str} arguments: libtorch 2.10 and later convert StableLists
     * and string handles (and free them after the call); 2.7 has neither, so ops needing them have composite forms.
     */
    boolean takesListsAndStrings() {
        return newList != null && listPushBack != null && newString != null;
    }

    private long newIntList(long[] values, String op) {
        if (!takesListsAndStrings()) {
            throw new TorchException(op + ": this libtorch's dispatcher takes no list arguments (2.10+ does)");
        }
        try {
            MemorySegment out = scratch.get().out;
            check((int) newList.invokeExact((long) values.length, out), "torch_new_list_reserve_size");
            MemorySegment list = out.get(ADDRESS, 0);
            for (long v : values) {
                check((int) listPushBack.invokeExact(list, v), "torch_list_push_back");
            }
            return list.address();
        } catch (Throwable t) {
            throw wrap(op + ": building an int[] argument", t);
        }
    }

    private long newStringHandle(String value, String op) {
        if (!takesListsAndStrings()) {
            throw new TorchException(op + ": this libtorch's dispatcher takes no string arguments (2.10+ does)");
        }
        try {
            MemorySegment out = scratch.get().out;
            MemorySegment chars = cString(value);  // cached, NUL-terminated; libtorch copies the characters
            check((int) newString.invokeExact(chars, chars.byteSize() - 1, out), "torch_new_string_handle");
            return out.get(ADDRESS, 0).address();
        } catch (Throwable t) {
            throw wrap(op + ": building a str argument", t);
        }
    }

    /** A heap StableIValue that libtorch will {@code delete} after converting the optional. */
    private MemorySegment newHeapStableIValue() {
        try {
            if (newStableIValue != null) {
                MemorySegment out = scratch.get().out;
                check((int) newStableIValue.invokeExact(out), "torch_new_stable_ivalue");
                return out.get(ADDRESS, 0).reinterpret(8);
            }
            MemorySegment p = (MemorySegment) operatorNew.invokeExact(8L);
            return p.reinterpret(8);
        } catch (Throwable t) {
            throw wrap("allocating an optional argument", t);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // runtime-wide settings

    void setNumThreads(int n) {
        if (setNumThreads == null) {
            throw new TorchException("this libtorch does not export at::set_num_threads; use OMP_NUM_THREADS");
        }
        try {
            setNumThreads.invokeExact(n);
        } catch (Throwable t) {
            throw wrap("at::set_num_threads", t);
        }
    }

    int numThreads() {
        if (getNumThreads == null) {
            return -1;
        }
        try {
            return (int) getNumThreads.invokeExact();
        } catch (Throwable t) {
            throw wrap("at::get_num_threads", t);
        }
    }

    int cudaDeviceCount() {
        try {
            if (cudaGetDeviceCount != null) {
                MemorySegment out = scratch.get().out;
                int rc = (int) cudaGetDeviceCount.invokeExact(out);
                return rc == 0 ? out.get(JAVA_INT, 0) : 0;
            }
            if (c10DeviceCount != null) {
                return (byte) c10DeviceCount.invokeExact();
            }
            return 0;
        } catch (Throwable t) {
            throw wrap("cudaGetDeviceCount", t);
        }
    }

    /** Waits for the calling thread's current CUDA device (device 0 unless changed) to finish its work. */
    void cudaSynchronize() {
        try {
            if (cudaDeviceSynchronize != null) {
                int rc = (int) cudaDeviceSynchronize.invokeExact();
                if (rc != 0) {
                    throw new TorchException("cudaDeviceSynchronize returned CUDA error " + rc);
                }
            } else if (c10DeviceSynchronize != null) {
                c10DeviceSynchronize.invokeExact();
            }
        } catch (Throwable t) {
            throw wrap("cudaDeviceSynchronize", t);
        }
    }

    /** Whether CUDA events can time ops on the device ({@link OpProfile}'s event timing). */
    boolean hasCudaEvents() {
        return cudaEventCreate != null && cudaEventRecord != null && cudaEventElapsedTime != null;
    }

    /** A new CUDA event with timing (never destroyed: the profile keeps a fixed pool for the process's life). */
    MemorySegment cudaEventCreate() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            int rc = (int) cudaEventCreate.invokeExact(out);
            if (rc != 0) throw new TorchException("cudaEventCreate returned CUDA error " + rc);
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw wrap("cudaEventCreate", t);
        }
    }

    /** Records the event on the legacy default stream, the one libtorch issues on unless told otherwise. */
    void cudaEventRecord(MemorySegment event) {
        try {
            int rc = (int) cudaEventRecord.invokeExact(event, MemorySegment.NULL);
            if (rc != 0) throw new TorchException("cudaEventRecord returned CUDA error " + rc);
        } catch (Throwable t) {
            throw wrap("cudaEventRecord", t);
        }
    }

    /** Milliseconds between two completed events. */
    float cudaEventElapsedMillis(MemorySegment start, MemorySegment end) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_FLOAT);
            int rc = (int) cudaEventElapsedTime.invokeExact(out, start, end);
            if (rc != 0) throw new TorchException("cudaEventElapsedTime returned CUDA error " + rc);
            return out.get(JAVA_FLOAT, 0);
        } catch (Throwable t) {
            throw wrap("cudaEventElapsedTime", t);
        }
    }

    /** For messages and tests: which allocator backs optional dispatcher arguments. */
    String optionalAllocator() {
        return newStableIValue != null ? "torch_new_stable_ivalue" : "operator new";
    }
}
