package dkv.scorers.model.checkpoint;

import dkv.scorers.model.SafetensorsIndex;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One {@code torch.save} zip checkpoint ({@code pytorch_model*.bin}): {@code <prefix>/data.pkl} (the state dict,
 * read by {@link StateDictUnpickler} without executing it), {@code <prefix>/data/<key>} (one STORED record per
 * storage), {@code <prefix>/byteorder}. Each tensor becomes a byte range in the file, in the same
 * {@link SafetensorsIndex.Entry} form safetensors weights have; several tensors may share one storage at
 * different offsets. Only the zip directory and the pickle are read here, never the tensor bytes.
 */
public final class TorchCheckpointFile {

    private static final int MAX_PICKLE = 256 << 20;

    private final Map<String, PickledTensor> tensors;
    private final Map<String, SafetensorsIndex.Entry> entries;

    private TorchCheckpointFile(Map<String, PickledTensor> tensors, Map<String, SafetensorsIndex.Entry> entries) {
        this.tensors = Collections.unmodifiableMap(tensors);
        this.entries = Collections.unmodifiableMap(entries);
    }

    /** Reads the directory and the state dict of {@code file}. */
    public static TorchCheckpointFile read(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            Map<String, StoredZip.Record> records = StoredZip.read(ch, file);
            String prefix = archivePrefix(records, file);
            requireLittleEndian(ch, records.get(prefix + "byteorder"), file);
            StoredZip.Record pkl = records.get(prefix + "data.pkl");
            if (pkl.size() > MAX_PICKLE) {
                throw new IllegalArgumentException(file + ": " + pkl.name() + " is " + pkl.size() + " bytes, too large for a state dict");
            }
            ByteBuffer pickle = StoredZip.readAt(ch, pkl.dataOffset(), (int) pkl.size());
            Map<String, PickledTensor> tensors = StateDictUnpickler.read(pickle.array(), file + ": " + pkl.name());
            Map<String, SafetensorsIndex.Entry> entries = new LinkedHashMap<>();
            for (Map.Entry<String, PickledTensor> t : tensors.entrySet()) {
                entries.put(t.getKey(), locate(t.getKey(), t.getValue(), records, prefix, file));
            }
            return new TorchCheckpointFile(tensors, entries);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read torch checkpoint: " + e.getMessage(), e);
        }
    }

    /** Each tensor's location: file, dtype in safetensors' spelling (F16, F32, BF16, …), shape, byte range. */
    public Map<String, SafetensorsIndex.Entry> entries() {
        return entries;
    }

    /** Each tensor as pickled: storage key, offset and strides, and whether it was an {@code nn.Parameter}. */
    public Map<String, PickledTensor> tensors() {
        return tensors;
    }

    /**
     * The tensor's bytes as one contiguous range inside its storage record. A view whose elements are not one
     * row-major run (a transposed tensor saved as is) has no such range and is refused rather than copied here.
     */
    private static SafetensorsIndex.Entry locate(String name, PickledTensor t, Map<String, StoredZip.Record> records,
                                                 String prefix, Path file) {
        String where = file + ": tensor '" + StateDictUnpickler.printable(name) + "'";
        StoredZip.Record storage = records.get(prefix + "data/" + t.storageKey());
        if (storage == null) {
            throw new IllegalArgumentException(where + ": storage record " + prefix + "data/"
                    + StateDictUnpickler.printable(t.storageKey()) + " is missing");
        }
        int element = t.storage().elementSize();
        if (storage.size() != Math.multiplyExact(t.storageNumel(), (long) element)) {
            throw new IllegalArgumentException(where + ": storage record " + storage.name() + " has " + storage.size()
                    + " bytes, the pickle says " + t.storageNumel() + " × " + element);
        }
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(where + " is not contiguous (shape " + Arrays.toString(t.shape())
                    + ", strides " + Arrays.toString(t.strides()) + "); save it with .contiguous()");
        }
        long numel = t.numel();
        if (numel > 0 && t.storageOffset() + numel > t.storageNumel()) {
            throw new IllegalArgumentException(where + ": elements " + t.storageOffset() + ".." + (t.storageOffset() + numel)
                    + " lie outside its storage of " + t.storageNumel());
        }
        return new SafetensorsIndex.Entry(name, file, t.storage().dtype(), t.shape(),
                storage.dataOffset() + t.storageOffset() * element, numel * element);
    }

    /** The records sit under one folder (the file's stem, or {@code archive/} in newer torch): found by data.pkl. */
    private static String archivePrefix(Map<String, StoredZip.Record> records, Path file) {
        List<String> pickles = records.keySet().stream()
                .filter(n -> n.endsWith("/data.pkl") && n.indexOf('/') == n.length() - "/data.pkl".length())
                .toList();
        if (pickles.size() != 1) {
            throw new IllegalArgumentException(file + ": expected one <folder>/data.pkl record in the zip, found "
                    + (pickles.isEmpty() ? "none" : pickles) + " (not a torch.save checkpoint?)");
        }
        return pickles.getFirst().substring(0, pickles.getFirst().length() - "data.pkl".length());
    }

    /** As torch.load: a checkpoint without a byteorder record is little-endian. Big-endian ones are refused. */
    private static void requireLittleEndian(FileChannel ch, StoredZip.Record byteorder, Path file) throws IOException {
        if (byteorder == null) return;
        if (byteorder.size() > 16) throw new IllegalArgumentException(file + ": " + byteorder.name() + " is not 'little' or 'big'");
        String order = StandardCharsets.US_ASCII.decode(StoredZip.readAt(ch, byteorder.dataOffset(), (int) byteorder.size()))
                .toString().trim();
        if (!order.equals("little")) {
            throw new IllegalArgumentException(file + ": " + byteorder.name() + " is '" + StateDictUnpickler.printable(order)
                    + "'; only little-endian checkpoints are supported");
        }
    }
}
