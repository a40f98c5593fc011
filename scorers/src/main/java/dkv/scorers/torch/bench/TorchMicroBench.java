package dkv.scorers.torch.bench;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import dkv.scorers.torch.TorchRuntime;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import java.util.function.Supplier;

/**
 * Micro-benchmark of the runtime's two costs that matter for scoring: per-op dispatch overhead (a small op
 * on a tiny tensor, host-side cost of issuing it, result freed each time) and bf16 matmul throughput
 * (TFLOP/s of n×n×n products, after warm-up, timed between device synchronizations). Prints
 * {@code key value} lines; {@code ops/gpu/torch_bench.py} prints the same keys for Python torch so
 * {@code ops/gpu/torch-check.sh} can show them side by side.
 *
 * <pre>java -cp "$DKV_LIB/*" dkv.scorers.torch.bench.TorchMicroBench --device cuda:0 --sizes 4096,8192</pre>
 */
public final class TorchMicroBench {

    private final Device device;
    private final TorchRuntime runtime;

    private TorchMicroBench(TorchRuntime runtime, Device device) {
        this.runtime = runtime;
        this.device = device;
    }

    /**
     * Mean microseconds per call of {@code op} over {@code iterations}, each result closed right away, after
     * as many warm-up calls (enough for the JIT to compile the call path).
     */
    private double microsPerOp(Supplier<Tensor> op, int iterations) {
        for (int i = 0; i < iterations; i++) {
            op.get().close();
        }
        runtime.cudaSynchronize();
        long t0 = System.nanoTime();
        for (int i = 0; i < iterations; i++) {
            op.get().close();
        }
        runtime.cudaSynchronize();
        return (System.nanoTime() - t0) / 1e3 / iterations;
    }

    private void dispatch(int iterations) {
        try (TensorScope ignored = TensorScope.open()) {
            Tensor a = Ops.to(Tensors.fromFloats(randomFloats(64, 1), 8, 8), DType.FLOAT32, device);
            Tensor b = Ops.to(Tensors.fromFloats(randomFloats(64, 2), 8, 8), DType.FLOAT32, device);
            print("dispatch.add.us", microsPerOp(() -> Ops.add(a, b), iterations));
            print("dispatch.mul.us", microsPerOp(() -> Ops.mul(a, b), iterations));
            print("dispatch.silu.us", microsPerOp(() -> Ops.silu(a), iterations));
            print("dispatch.softmax.us", microsPerOp(() -> Ops.softmax(a, -1), iterations));
            print("dispatch.matmul8.us", microsPerOp(() -> Ops.matmul(a, b), iterations));
            print("dispatch.narrow.us", microsPerOp(() -> Ops.narrow(a, 0, 1, 4), iterations));
        }
    }

    private void matmul(int n, int iterations) {
        try (TensorScope ignored = TensorScope.open()) {
            Tensor a = randomOnDevice(n, 3);
            Tensor b = randomOnDevice(n, 4);
            for (int i = 0; i < 3; i++) {
                Ops.matmul(a, b).close();
            }
            runtime.cudaSynchronize();
            long t0 = System.nanoTime();
            for (int i = 0; i < iterations; i++) {
                Ops.matmul(a, b).close();
            }
            runtime.cudaSynchronize();
            double seconds = (System.nanoTime() - t0) / 1e9;
            print("matmul.bf16." + n + ".tflops", 2.0 * n * n * (double) n * iterations / seconds / 1e12);
        }
    }

    /** A bf16 n×n standard-normal matrix on the device (generated in float32 on the host, in row blocks). */
    private Tensor randomOnDevice(int n, long seed) {
        Tensor out = Tensors.empty(DType.BFLOAT16, device, n, n);
        int rowsPerBlock = Math.max(1, (1 << 22) / n);
        for (int r = 0; r < n; r += rowsPerBlock) {
            int rows = Math.min(rowsPerBlock, n - r);
            try (TensorScope ignored = TensorScope.open()) {
                Tensor block = Tensors.fromFloats(randomFloats(rows * n, seed * 1_000_003L + r), rows, n);
                Ops.copyInto(Ops.narrow(out, 0, r, rows), block);
            }
        }
        return out;
    }

    private static float[] randomFloats(int n, long seed) {
        Random random = new Random(seed);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) random.nextGaussian();
        }
        return f;
    }

    private static void print(String key, double value) {
        System.out.printf(Locale.ROOT, "%s %.3f%n", key, value);
    }

    /** {@code --device cpu|cuda:N --sizes 4096,8192 --iters N --dispatch-iters N --libtorch DIR --threads N}. */
    public static void main(String[] args) {
        Device device = Device.cpu();
        List<Integer> sizes = List.of(4096, 8192);
        int iters = 0;
        int dispatchIters = 20_000;
        Optional<Path> lib = Optional.empty();
        int threads = 0;
        for (int i = 0; i + 1 < args.length; i += 2) {
            String v = args[i + 1];
            switch (args[i]) {
                case "--device" -> device = Device.parse(v);
                case "--sizes" -> sizes = Arrays.stream(v.split(",")).map(Integer::parseInt).toList();
                case "--iters" -> iters = Integer.parseInt(v);
                case "--dispatch-iters" -> dispatchIters = Integer.parseInt(v);
                case "--libtorch" -> lib = Optional.of(Path.of(v));
                case "--threads" -> threads = Integer.parseInt(v);
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (use --device, --sizes, --iters, --dispatch-iters, --libtorch, --threads)");
            }
        }
        TorchRuntime runtime;
        try {
            runtime = TorchRuntime.loadFor(device, lib, threads);
        } catch (dkv.scorers.torch.TorchException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(2);
            return;
        }
        System.out.println("# java " + Runtime.version() + ", " + runtime.describe() + ", device " + device);
        TorchMicroBench bench = new TorchMicroBench(runtime, device);
        bench.dispatch(dispatchIters);
        for (int n : sizes) {
            // about 2 s of work at ~700 TFLOP/s unless told otherwise
            int it = iters > 0 ? iters : (int) Math.max(5, Math.min(500, 1.4e15 / (2.0 * n * n * n)));
            bench.matmul(n, it);
        }
    }
}
