package dkv.scorers.model;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import java.util.Set;

/** One model family: which HF {@code model_type}s / architectures it reads and how to load them. */
public interface ModelFamily {

    /** Registry name, also what a condition's {@code requires_family} names. */
    String name();

    /** HF {@code model_type} values this family implements. */
    Set<String> modelTypes();

    /** HF {@code architectures} values this family implements. */
    Set<String> architectures();

    /** Parses the snapshot's config as this family's own and loads the weights: one of the {@link LoadedModel} kinds. */
    LoadedModel load(ModelSnapshot snapshot, Device device, DType dtype);
}
