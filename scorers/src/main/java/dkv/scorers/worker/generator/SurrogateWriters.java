package dkv.scorers.worker.generator;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import java.nio.file.Path;
import java.util.Optional;

/** Where the generator service gets its {@link SurrogateWriter}. */
public final class SurrogateWriters {
    private SurrogateWriters() {}

    /**
     * The generation engine for an instruction-tuned causal LM snapshot, served as {@code modelId}: the one place an
     * adapter over the text generator plugs in ({@code dkv generator --model DIR} and {@code dkv demo --generated} call
     * only this). Empty while this build has no generation engine; callers then refuse, or use
     * {@link ExtractiveStandIn} and say that they do.
     */
    public static Optional<SurrogateWriter> engine(Path modelDir, String modelId, Device device, DType dtype) {
        return Optional.empty();
    }
}
