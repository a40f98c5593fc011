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
            LlamaFamily.INSTANCE,
            dkv.scorers.model.glm.GlmFamily.INSTANCE,
            dkv.scorers.model.gemma.Gemma3Family.INSTANCE,
            dkv.scorers.model.gemma.T5Gemma2Family.INSTANCE,
            dkv.scorers.model.bert.BertFamily.INSTANCE);

    private ModelFamilies() {
    }

    /** Opens the snapshot at {@code dir} and loads it with its family onto {@code device} as {@code dtype}. */
    public static LoadedModel load(Path dir, Device device, DType dtype) {
        ModelSnapshot snapshot = ModelSnapshot.open(dir);
        return familyOf(snapshot).load(snapshot, device, dtype);
    }

    /** {@link #load}, requiring a decoder-only model: anything else is an error naming the directory and its kind. */
    public static CausalLm loadCausal(Path dir, Device device, DType dtype) {
        LoadedModel m = load(dir, device, dtype);
        if (m instanceof CausalLm lm) return lm;
        m.close();
        throw new IllegalArgumentException(dir + ": a " + m.family() + " model is not a decoder-only language model");
    }

    /** The family implementing a snapshot; an unknown one is an error naming it and the supported list. */
    public static ModelFamily familyOf(ModelSnapshot snapshot) {
        for (ModelFamily f : FAMILIES) {
            if (f.modelTypes().contains(snapshot.modelType())) return f;
        }
        for (ModelFamily f : FAMILIES) {
            if (snapshot.architectures().stream().anyMatch(f.architectures()::contains)) return f;
        }
        TreeSet<String> types = new TreeSet<>();
        TreeSet<String> archs = new TreeSet<>();
        FAMILIES.forEach(f -> {
            types.addAll(f.modelTypes());
            archs.addAll(f.architectures());
        });
        throw new IllegalArgumentException(snapshot.dir() + ": architecture " + snapshot.architectures() + " (model_type '"
                + snapshot.modelType() + "') is not supported; supported model types: " + String.join(", ", types)
                + " (" + String.join(", ", archs) + ")");
    }
}
