package dkv.scorers.model;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;

/**
 * What every loaded model is besides its math: its family's name, the snapshot it came from, its tokenizer, and the
 * device and dtype its weights live in. Families' model classes extend it, so these accessors are written once.
 */
public abstract class LoadedModelBasics<T extends LayoutTokenizer> {

    private final String family;
    protected final ModelSnapshot snapshot;
    protected final T tokenizer;
    protected final Device device;
    protected final DType dtype;

    protected LoadedModelBasics(String family, ModelSnapshot snapshot, T tokenizer, Device device, DType dtype) {
        this.family = family;
        this.snapshot = snapshot;
        this.tokenizer = tokenizer;
        this.device = device;
        this.dtype = dtype;
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
}
