package dkv.scorers.model;

import java.util.Map;

/**
 * Where every weight of a snapshot lies (file, dtype in safetensors' spelling, shape, byte range), whatever the
 * checkpoint format: {@link SafetensorsIndex} or {@link dkv.scorers.model.checkpoint.TorchCheckpointIndex} (PyTorch
 * {@code .bin}, e.g. ChatGLM-6B). {@link WeightLoader} maps the ranges; {@link ModelSnapshot} picks the format.
 */
public interface WeightIndex {

    /** Every weight by name. */
    Map<String, SafetensorsIndex.Entry> entries();

    boolean contains(String name);

    /** The entry of a weight; a missing one is an error naming the weight and the snapshot. */
    SafetensorsIndex.Entry entry(String name);
}
