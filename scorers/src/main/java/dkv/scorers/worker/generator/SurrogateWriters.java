package dkv.scorers.worker.generator;

import dkv.scorers.generate.ChatTemplate;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import java.nio.file.Path;

/** Where the generator service gets its {@link SurrogateWriter}: the generation engine over a causal LM. */
public final class SurrogateWriters {
    private SurrogateWriters() {}

    /**
     * The generation engine for an instruction-tuned causal LM snapshot, served as {@code modelId}, loaded onto
     * {@code device} as {@code dtype}; closing the writer closes the model. The snapshot's chat template is read first,
     * so a snapshot without one fails before any weight loads.
     *
     * @param batchSize prompts decoded together at most (a call's prompts are sorted by length and cut into batches)
     */
    public static SurrogateWriter engine(Path modelDir, String modelId, Device device, DType dtype, int batchSize) {
        ChatTemplate template = ChatTemplate.of(modelDir);
        checkBatch(batchSize);
        CausalLm lm = ModelFamilies.loadCausal(modelDir, device, dtype);
        try {
            return new TextGeneratorWriter(lm, true, template, modelId, batchSize);
        } catch (RuntimeException e) { // a model generation does not support (a prefix LM, no tokenizer.json)
            lm.close();
            throw e;
        }
    }

    /**
     * The generation engine over a model loaded elsewhere (the CLI's, which logs the load; the demo's, which its scorers
     * share). Its chat template comes from the model's snapshot directory.
     *
     * @param closesModel whether closing the writer closes {@code lm} (handed over) or leaves it open (shared)
     */
    public static SurrogateWriter engine(CausalLm lm, boolean closesModel, String modelId, int batchSize) {
        ChatTemplate template = ChatTemplate.of(lm.snapshot().dir());
        checkBatch(batchSize);
        return new TextGeneratorWriter(lm, closesModel, template, modelId, batchSize);
    }

    private static void checkBatch(int batchSize) {
        if (batchSize < 1) throw new IllegalArgumentException("generation batch size must be ≥ 1, got " + batchSize);
    }
}
