package dkv.scorers.torch;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Start-up: locating libtorch, probing the shim, and the messages when something is missing. */
class TorchRuntimeTest {

    private static TorchRuntime runtime;

    @BeforeAll
    static void load() {
        runtime = TorchRuntime.load(Optional.empty());
    }

    @Test
    void reportsVersionDevicesAndThreads() {
        assertTrue(runtime.version().matches("\\d+\\.\\d+.*"), runtime.version());
        assertEquals(0, runtime.cudaDeviceCount());
        runtime.setNumThreads(1);
        assertEquals(1, runtime.numThreads());
        assertTrue(runtime.describe().contains(runtime.libraryDir().toString()));
        TorchException e = assertThrows(TorchException.class, () -> runtime.requireDevice(Device.cuda(0)));
        assertTrue(e.getMessage().contains("cuda:0 is not available"), e.getMessage());
    }

    @Test
    void missingShimFunctionsAreAllNamedInOneMessage() {
        SymbolLookup real = SymbolLookup.loaderLookup();
        Set<String> hidden = Set.of("aoti_torch_call_dispatcher", "aoti_torch_cpu_cat");
        SymbolLookup filtered = name -> hidden.contains(name) ? Optional.empty() : real.find(name);
        SymbolLookup cxx = SymbolLookup.libraryLookup(runtime.libraryDir().resolve("libc10.so"), Arena.global());
        TorchException e = assertThrows(TorchException.class,
                () -> TorchAbi.bind(new TorchAbi.Lookups(filtered, cxx, Optional.empty()), "/some/torch/lib"));
        assertTrue(e.getMessage().startsWith("libtorch at /some/torch/lib lacks 2 function(s)"), e.getMessage());
        assertTrue(e.getMessage().contains("aoti_torch_call_dispatcher"), e.getMessage());
        assertTrue(e.getMessage().contains("aoti_torch_cpu_cat"), e.getMessage());
        // the unfiltered lookup binds: the probe list is satisfiable by this libtorch
        TorchAbi.bind(new TorchAbi.Lookups(real, cxx, Optional.empty()), "real");
    }

    @Test
    void optionalArgumentsWorkWithoutTheNewerAllocator() {
        // libtorch 2.7 has no torch_new_stable_ivalue: optionals then come from operator new. Force that path.
        SymbolLookup real = SymbolLookup.loaderLookup();
        SymbolLookup without = name -> name.equals("torch_new_stable_ivalue") ? Optional.empty() : real.find(name);
        SymbolLookup cxx = SymbolLookup.libraryLookup(runtime.libraryDir().resolve("libc10.so"), Arena.global());
        TorchAbi abi = TorchAbi.bind(new TorchAbi.Lookups(without, cxx, Optional.empty()), "test");
        assertEquals("operator new", abi.optionalAllocator());
        try (TensorScope ignored = TensorScope.open()) {
            Tensor x = Tensors.fromFloats(new float[]{3, 9, 1, 4, 2, 8}, 2, 3);
            MemorySegment[] r = abi.call("aten::argmax", "", 1, x.handle(), new TorchAbi.Some(1L), false);
            Tensor idx = Tensor.adopt(r[0]);
            assertEquals(2, idx.numel());
            assertEquals(DType.INT64, idx.dtype());
            assertArrayEquals(new long[]{1, 2}, longs(idx));
        }
    }

    @Test
    void cudaFallbacksAreRefusedByNameOnACpuBuild() {
        try (TensorScope ignored = TensorScope.open()) {
            Tensor x = Tensors.fromFloats(new float[]{1, 2}, 2);
            TorchException e = assertThrows(TorchException.class,
                    () -> TorchRuntime.abi().addTensor(Device.Kind.CUDA, x.handle(), x.handle(), 1.0));
            assertEquals("aoti_torch_cuda_add_Tensor is not available: this libtorch has no CUDA support", e.getMessage());
        }
    }

    @Test
    void aDirectoryWithoutLibtorchIsNamed(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("libc10.so"), "");
        TorchException e = assertThrows(TorchException.class, () -> LibtorchLocator.inspect(dir, "PYTORCH_LIBRARY_PATH"));
        assertEquals("PYTORCH_LIBRARY_PATH " + dir + ": no libtorch_cpu.so there (expected a libtorch lib directory,"
                + " e.g. a pip wheel's site-packages/torch/lib)", e.getMessage());
    }

    @Test
    void versionComesFromTheWheelsVersionPy(@TempDir Path torch) throws IOException {
        Path lib = Files.createDirectories(torch.resolve("lib"));
        for (String name : new String[]{"libc10.so", "libtorch_cpu.so", "libtorch.so", "libc10_cuda.so", "libtorch_cuda.so"}) {
            Files.writeString(lib.resolve(name), "");
        }
        Files.writeString(torch.resolve("version.py"), "__version__ = '2.11.0+cu130'\ncuda = '13.0'\n");
        LibtorchLocator.Installation inst = LibtorchLocator.inspect(lib, "--libtorch");
        assertEquals("2.11.0+cu130", inst.version());
        assertTrue(inst.cuda());
    }

    @Test
    void loadingASecondLibtorchIsRefused(@TempDir Path torch) throws IOException {
        for (String name : new String[]{"libc10.so", "libtorch_cpu.so", "libtorch.so"}) {
            Files.writeString(torch.resolve(name), "");
        }
        TorchException e = assertThrows(TorchException.class, () -> TorchRuntime.load(Optional.of(torch)));
        assertTrue(e.getMessage().contains("already loaded from " + runtime.libraryDir()), e.getMessage());
    }

    @Test
    void nativeEnvironmentIsSetForNativeCodeButNeverOverridesTheUser() {
        String name = "DKV_TEST_NATIVE_ENV_" + ProcessHandle.current().pid();
        assertEquals(null, NativeEnvironment.get(name));
        NativeEnvironment.setIfUnset(name, "first");
        assertEquals("first", NativeEnvironment.get(name));
        NativeEnvironment.setIfUnset(name, "second");
        assertEquals("first", NativeEnvironment.get(name), "a value already there is kept");
        assertEquals(System.getenv("PATH"), NativeEnvironment.get("PATH"));
    }

    /** The values of a contiguous int64 CPU tensor, read straight from its memory. */
    private static long[] longs(Tensor t) {
        assertTrue(t.device().equals(Device.cpu()) && t.isContiguous(), t.toString());
        return t.dataPointer().reinterpret(8L * t.numel()).toArray(JAVA_LONG);
    }
}
