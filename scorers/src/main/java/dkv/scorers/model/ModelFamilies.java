package dkv.scorers.model;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;

/** The registry from HF {@code model_type} / {@code architectures} to a family implementation. */
public final class ModelFamilies {

    /** Adding a family = its file + a line here. */
    private static final List<ModelFamily> FAMILIES = List.of(
            LlamaFamily.INSTANCE);

    private ModelFamilies() {
    }

    /** Opens the snapshot at {@code dir} and loads it with its family onto {@code device} as {@code dtype}. */
    public static CausalLm load(Path dir, Device device, DType dtype) {
        ModelSnapshot snapshot = ModelSnapshot.open(dir);
        return familyOf(snapshot).load(snapshot, device, dtype);
    }

    /** The family implementing a snapshot; an unknown one is an error naming it and the supported list. */
    public static ModelFamily familyOf(ModelSnapshot snapshot) {
        ModelConfig c = snapshot.config();
        for (ModelFamily f : FAMILIES) {
            if (f.modelTypes().contains(c.modelType())) return f;
        }
        for (ModelFamily f : FAMILIES) {
            if (c.architectures().stream().anyMatch(f.architectures()::contains)) return f;
        }
        TreeSet<String> types = new TreeSet<>();
        TreeSet<String> archs = new TreeSet<>();
        FAMILIES.forEach(f -> {
            types.addAll(f.modelTypes());
            archs.addAll(f.architectures());
        });
        throw new IllegalArgumentException(snapshot.dir() + ": architecture " + c.architectures() + " (model_type '"
                + c.modelType() + "') is not supported; supported model types: " + String.join(", ", types)
                + " (" + String.join(", ", archs) + ")");
    }
}
