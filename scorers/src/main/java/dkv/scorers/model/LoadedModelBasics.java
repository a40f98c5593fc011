package dkv.scorers.model;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Tensor;
import java.util.List;

/**
 * What every loaded model is besides its math: its family's name, the snapshot it came from, its tokenizer, the
 * device and dtype its weights live in, and what it owns for its whole life (the weight tensors and the loader whose
 * mappings back them). Families' model classes extend it, so these accessors and the release are written once.
 */
public abstract class LoadedModelBasics<T extends LayoutTokenizer> {

    private final String family;
    protected final ModelSnapshot snapshot;
    protected final T tokenizer;
    protected final Device device;
    protected final DType dtype;
    private final WeightLoader loader;
    private final List<Tensor> owned;

    protected LoadedModelBasics(String family, ModelSnapshot snapshot, T tokenizer, Device device, DType dtype,
                                WeightLoader loader, List<Tensor> owned) {
        this.family = family;
        this.snapshot = snapshot;
        this.tokenizer = tokenizer;
        this.device = device;
        this.dtype = dtype;
        this.loader = loader;
        this.owned = owned;
    }

    public final String family() {
        return family;
    }

    public final ModelSnapshot snapshot() {
        return snapshot;
    }

    public final T tokenizer() {
        return tokenizer;
    }

    public final Device device() {
        return device;
    }

    public final DType dtype() {
        return dtype;
    }

    /** Frees the weights, then the tokenizer and the loader's file mappings (which CPU weights may view). */
    public final void close() {
        owned.forEach(Tensor::close);
        tokenizer.close();
        loader.close();
    }
}
