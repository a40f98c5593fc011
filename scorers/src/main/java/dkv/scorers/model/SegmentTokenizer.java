package dkv.scorers.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dkv.scorers.recipe.Segment;
import dkv.scorers.recipe.SegmentTexts;
import dkv.scorers.recipe.SequenceLayout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A snapshot's {@code tokenizer.json} (through DJL's HuggingFace tokenizers) and the one rule for segment
 * boundaries: the whole text is tokenized once with special tokens, and segment k is
 * {@code len(tok(seg_1..seg_k)) - len(tok(seg_1..seg_{k-1}))}. BPE may merge across a boundary; the lengths
 * then follow the merged tokenization, as the research settled on.
 */
public final class SegmentTokenizer implements AutoCloseable {

    private final HuggingFaceTokenizer tokenizer;
    private final int bosLength;

    private SegmentTokenizer(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
        this.bosLength = encode("").length;
    }

    private static final String DJL_CUDA_FORK = "ai.djl.util.cuda.fork";

    /** Opens {@code dir/tokenizer.json}: no truncation, no padding (DJL's defaults silently cut at 512). */
    public static SegmentTokenizer open(Path dir) {
        Path file = dir.resolve("tokenizer.json");
        if (!Files.exists(file)) throw new IllegalArgumentException(dir + ": no tokenizer.json");
        // The jar carries the CPU native library; without this DJL looks for a CUDA flavour and downloads it.
        if (System.getenv("RUST_FLAVOR") == null && System.getProperty("RUST_FLAVOR") == null) {
            System.setProperty("RUST_FLAVOR", "cpu");
        }
        // DJL's platform detection queries CUDA through its own JNA-loaded libcudart (e.g. the system's
        // /usr/local/cuda copy); doing that in this process breaks libtorch's kernel launches afterwards
        // ("CUDA error: invalid resource handle", seen on the H100 host). Fork makes DJL ask in a child JVM.
        if (System.getProperty(DJL_CUDA_FORK) == null) {
            System.setProperty(DJL_CUDA_FORK, "true");
        }
        try {
            return new SegmentTokenizer(HuggingFaceTokenizer.newInstance(file, Map.of(
                    "truncation", "false", "padding", "false", "addSpecialTokens", "true")));
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(file + ": cannot load tokenizer: " + e.getMessage(), e);
        }
    }

    /** Token ids of {@code text} with the tokenizer's special tokens (e.g. BOS). */
    public int[] encode(String text) {
        long[] ids = tokenizer.encode(text, true, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = Math.toIntExact(ids[i]);
        return out;
    }

    /** Tokens the special tokens add before any text (1 for a BOS-adding tokenizer, 0 for e.g. Qwen2). */
    public int bosLength() {
        return bosLength;
    }

    /** The whole condition tokenized once, with each segment's incremental length. */
    public SequenceLayout layout(SegmentTexts texts) {
        String[] parts = texts.inOrder();
        int[] lengths = new int[Segment.values().length];
        lengths[Segment.BOS.ordinal()] = bosLength;
        StringBuilder text = new StringBuilder();
        int previous = bosLength;
        for (int k = 0; k < parts.length; k++) {
            text.append(parts[k]);
            int n = k == parts.length - 1 || !parts[k].isEmpty() ? encode(text.toString()).length : previous;
            lengths[k + 1] = n - previous;
            previous = n;
        }
        int[] ids = encode(text.toString());
        if (ids.length != previous) {
            throw new IllegalStateException("tokenizer is not deterministic: " + ids.length + " vs " + previous + " tokens");
        }
        return new SequenceLayout(ids, lengths);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
