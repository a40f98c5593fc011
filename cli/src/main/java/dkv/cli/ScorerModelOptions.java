package dkv.cli;

import dkv.scorers.model.CausalLm;
import dkv.scorers.model.LoadedModel;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.TorchRuntime;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** Where the model and libtorch come from, shared by {@code dkv score}, {@code scorer}, {@code generate}, {@code generator} and {@code embed}. */
public final class ScorerModelOptions {

    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "HF snapshot directory (config.json, tokenizer.json, *.safetensors)")
    Path modelDir;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "cpu|cuda:N", description = "compute device (default: ${DEFAULT-VALUE})")
    String device = "cpu";

    @Option(names = "--dtype", paramLabel = "float32|bfloat16|float16",
            description = "weight and activation dtype (default: float32 on CPU, bfloat16 on CUDA)")
    String dtype;

    @Option(names = "--libtorch", paramLabel = "DIR",
            description = "libtorch's lib directory, e.g. a pip wheel's torch/lib (default: PYTORCH_LIBRARY_PATH, else the bundled CPU libtorch)")
    Path libtorch;

    @Option(names = "--threads", paramLabel = "N", description = "libtorch intra-op CPU threads (default: libtorch's choice)")
    Integer threads;

    public Device device() {
        return Device.parse(device);
    }

    public DType dtype() {
        if (dtype == null) {
            return device().isCuda() ? DType.BFLOAT16 : DType.FLOAT32;
        }
        DType parsed = DType.parse(dtype);
        if (!parsed.isFloatingPoint() || parsed == DType.FLOAT64) {
            throw new IllegalArgumentException("--dtype must be float32, bfloat16 or float16, got " + dtype);
        }
        return parsed;
    }

    /** Loads libtorch (its description goes to {@code log}) and then the model onto the chosen device. */
    public LoadedModel load(PrintWriter log, String command) {
        return load(modelDir, log, command);
    }

    /** {@link #load(PrintWriter, String)} for commands that generate: anything but a causal LM is an error naming it. */
    public CausalLm loadCausal(PrintWriter log, String command) {
        LoadedModel loaded = load(log, command);
        if (loaded instanceof CausalLm lm) return lm;
        loaded.close();
        throw new IllegalArgumentException(modelDir + ": a " + loaded.shape() + " model cannot generate here (causal LMs only)");
    }

    /** Loads libtorch for the chosen device; its description goes to {@code log}. */
    public TorchRuntime runtime(PrintWriter log, String command) {
        TorchRuntime runtime = TorchRuntime.loadFor(device(), Optional.ofNullable(libtorch), threads == null ? 0 : threads);
        log.println("dkv " + command + ": " + runtime.describe());
        return runtime;
    }

    /** {@link #load(PrintWriter, String)} for another snapshot than {@code --model} (e.g. an embedder), same device and dtype. */
    public LoadedModel load(Path dir, PrintWriter log, String command) {
        Device target = device();
        DType type = dtype();
        runtime(log, command);
        long t0 = System.nanoTime();
        LoadedModel lm = ModelFamilies.load(dir, target, type);
        log.printf("dkv %s: model %s (%s, revision %s) on %s as %s, loaded in %.1f s%n", command, dir, lm.family(),
                lm.snapshot().revision(), target, type, (System.nanoTime() - t0) / 1e9);
        log.flush();
        return lm;
    }
}
