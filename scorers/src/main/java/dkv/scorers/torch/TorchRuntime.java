package dkv.scorers.torch;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The process-wide libtorch: located by {@link LibtorchLocator}, loaded with {@link System#load} in
 * dependency order, every shim function the runtime uses bound and probed up front ({@link TorchAbi}).
 * Loading twice from different directories is an error: a process holds one libtorch.
 */
public final class TorchRuntime {

    private static volatile TorchRuntime instance;

    private final LibtorchLocator.Installation installation;
    private final TorchAbi abi;
    private volatile int cudaDevices = -1;

    private TorchRuntime(LibtorchLocator.Installation installation, TorchAbi abi) {
        this.installation = installation;
        this.abi = abi;
    }

    /**
     * Loads libtorch ({@link #load}), sets its CPU thread count when {@code threads > 0}, and checks that
     * {@code device} exists — what every entry point does before its first tensor.
     *
     * @throws TorchException when the library is unusable or the device is not there
     */
    public static TorchRuntime loadFor(Device device, Optional<Path> libDir, int threads) {
        TorchRuntime runtime = load(libDir);
        if (threads > 0) {
            runtime.setNumThreads(threads);
        }
        runtime.requireDevice(device);
        return runtime;
    }

    /** libtorch's switch that moves cuDNN attention behind flash / memory-efficient / math in SDPA's choice. */
    static final String SDPA_CUDNN_SWITCH = "TORCH_CUDNN_SDPA_DEPRIORITIZED";

    /**
     * Loads libtorch from {@code libDir} (or {@code PYTORCH_LIBRARY_PATH}, or DJL's CPU jar) once per process.
     *
     * @throws TorchException naming the directory and every missing function when the library is unusable
     */
    public static synchronized TorchRuntime load(Optional<Path> libDir) {
        LibtorchLocator.Installation found = LibtorchLocator.locate(libDir);
        if (instance != null) {
            if (!instance.installation.libDir().equals(found.libDir())) {
                throw new TorchException("libtorch is already loaded from " + instance.installation.libDir()
                        + "; cannot also load " + found.libDir() + " in the same process");
            }
            return instance;
        }
        if (found.cuda()) {
            // On sm90+ libtorch puts cuDNN first among SDPA backends, and cuDNN builds an execution plan on the host
            // for every new shape — every padded batch here has a new one. On the H100 a third of the scorer's host
            // time went into those builds while the GPU waited (ops/gpu/NOTES.md); flash and memory-efficient
            // attention need no plan. Read once, at libtorch's first SDPA call; a value the user set is kept.
            NativeEnvironment.setIfUnset(SDPA_CUDNN_SWITCH, "1");
        }
        List<Path> loaded = loadLibraries(found);
        SymbolLookup torch = SymbolLookup.loaderLookup();
        // dlsym through a library handle also searches its dependencies: libstdc++ behind libc10, cudart
        // behind libc10_cuda
        SymbolLookup cxx = SymbolLookup.libraryLookup(loaded.getFirst(), Arena.global());
        Optional<SymbolLookup> cudart = found.cuda()
                ? Optional.of(SymbolLookup.libraryLookup(found.libDir().resolve("libc10_cuda.so"), Arena.global()))
                : Optional.empty();
        TorchAbi abi = TorchAbi.bind(new TorchAbi.Lookups(torch, cxx, cudart),
                found.libDir() + " (libtorch " + found.version() + ")");
        instance = new TorchRuntime(found, abi);
        return instance;
    }

    /** The loaded runtime, loading the default libtorch on first use. */
    public static TorchRuntime get() {
        TorchRuntime r = instance;
        return r != null ? r : load(Optional.empty());
    }

    static TorchAbi abi() {
        TorchRuntime r = instance;
        return (r != null ? r : get()).abi;
    }

    private static List<Path> loadLibraries(LibtorchLocator.Installation inst) {
        List<String> order = new ArrayList<>(List.of("libc10.so"));
        if (inst.cuda()) {
            order.add("libc10_cuda.so");
        }
        order.add("libtorch_cpu.so");
        if (inst.cuda()) {
            order.add("libtorch_cuda.so");
        }
        order.add("libtorch.so");
        List<Path> loaded = new ArrayList<>();
        for (String name : order) {
            Path p = inst.libDir().resolve(name);
            if (!Files.isRegularFile(p)) {
                throw new TorchException("libtorch at " + inst.libDir() + " lacks " + name);
            }
            try {
                System.load(p.toString());
            } catch (UnsatisfiedLinkError e) {
                throw new TorchException("cannot load " + p + ": " + e.getMessage(), e);
            }
            loaded.add(p);
        }
        return loaded;
    }

    /** The version libtorch declares (e.g. {@code 2.7.1-cpu}, {@code 2.11.0+cu130}). */
    public String version() {
        return installation.version();
    }

    /** The directory libtorch was loaded from. */
    public Path libraryDir() {
        return installation.libDir();
    }

    /** libtorch's {@code aoti_torch_abi_version()} (major, minor, patch packed in the top three bytes). */
    public long abiVersion() {
        return abi.abiVersion;
    }

    /** {@link #abiVersion()} as {@code major.minor.patch}. */
    public String abiVersionText() {
        long v = abi.abiVersion;
        return ((v >>> 56) & 0xff) + "." + ((v >>> 48) & 0xff) + "." + ((v >>> 40) & 0xff);
    }

    /** Number of visible CUDA devices (asked once; the set is fixed for the process); 0 for a CPU-only libtorch. */
    public int cudaDeviceCount() {
        int n = cudaDevices;
        if (n < 0) {
            n = abi.cudaDeviceCount();
            cudaDevices = n;
        }
        return n;
    }

    /**
     * Blocks until the queued CUDA work of this thread's current device (cuda:0 unless changed) finished; a no-op
     * on a CPU-only libtorch. For timing and for handing results to other processes; reading a tensor back to
     * the host synchronizes by itself.
     */
    public void cudaSynchronize() {
        abi.cudaSynchronize();
    }

    /** Sets libtorch's intra-op thread count ({@code at::set_num_threads}). */
    public void setNumThreads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        abi.setNumThreads(threads);
    }

    /** libtorch's intra-op thread count, or -1 when the library does not say. */
    public int numThreads() {
        return abi.numThreads();
    }

    /** Checks that {@code device} exists here, with a message naming it otherwise. */
    public void requireDevice(Device device) {
        if (device.isCuda() && device.index() >= cudaDeviceCount()) {
            throw new TorchException("device " + device + " is not available: libtorch " + version() + " at "
                    + libraryDir() + " sees " + cudaDeviceCount() + " CUDA device(s)");
        }
    }

    /** One line for start-up logs. */
    public String describe() {
        return "libtorch " + version() + " (shim ABI " + abiVersionText() + ") from " + libraryDir() + ", "
                + cudaDeviceCount() + " CUDA device(s), " + numThreads() + " CPU thread(s), optionals via "
                + abi.optionalAllocator()
                + (installation.cuda() ? ", " + SDPA_CUDNN_SWITCH + "=" + NativeEnvironment.get(SDPA_CUDNN_SWITCH) : "");
    }
}
