package dkv.scorers.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import dkv.scorers.recipe.Segment;
import dkv.scorers.recipe.SegmentTexts;
import dkv.scorers.recipe.SequenceLayout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A snapshot's {@code tokenizer.json} (through DJL's HuggingFace tokenizers) and the one rule for segment
 * boundaries: the whole text is tokenized once with special tokens, and segment k is
 * {@code len(tok(seg_1..seg_k)) - len(tok(seg_1..seg_{k-1}))}. BPE may merge across a boundary; the lengths
 * then follow the merged tokenization, as the research settled on.
 */
public final class SegmentTokenizer implements LayoutTokenizer {

    private final HuggingFaceTokenizer tokenizer;
    private final int bosLength;

    private SegmentTokenizer(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
        this.bosLength = encode("").length;
    }

    private static final String DJL_CUDA_FORK = "ai.djl.util.cuda.fork";

    /** Opens {@code dir/tokenizer.json}: no truncation, no padding (DJL's defaults silently cut at 512). */
    public static SegmentTokenizer open(Path dir) {
        return open(dir, Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "true"));
    }

    /**
     * Opens {@code dir/tokenizer.json} cutting every encoding to {@code maxTokens}, special tokens included, as HF's
     * {@code truncation=True, max_length=maxTokens} does (a sentence encoder's {@code max_seq_length}); no padding.
     * The file's own truncation and padding settings are replaced either way.
     */
    public static SegmentTokenizer openTruncating(Path dir, int maxTokens) {
        return open(dir, Map.of("truncation", "true", "maxLength", Integer.toString(maxTokens), "padding", "false",
                "addSpecialTokens", "true"));
    }

    private static SegmentTokenizer open(Path dir, Map<String, String> options) {
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
            return new SegmentTokenizer(HuggingFaceTokenizer.newInstance(file, options));
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(file + ": cannot load tokenizer: " + e.getMessage(), e);
        }
    }

    /**
     * Token ids of each text, with special tokens, in one native call that the tokenizers library spreads over
     * its threads. Only the ids are read back: DJL's {@code Encoding} would also copy every token string, type,
     * word id and character span across JNI, which costs more than the tokenization itself. The raw call skips
     * DJL's own text preparation (its {@code addPrefixSpace} / {@code doLowerCase} options), which {@link #open}
     * never sets: tokenizer.json's normalizer and pre-tokenizer alone decide, as in HF {@code transformers}.
     */
    @Override
    public List<int[]> encodeAll(List<String> texts) {
        return encodeAll(texts, true);
    }

    /**
     * {@link #encodeAll(List)} with or without the tokenizer's special tokens (BOS): without them for a text that
     * already holds its own, as a rendered chat template does (HF {@code apply_chat_template} tokenizes with
     * {@code add_special_tokens=False}).
     */
    public List<int[]> encodeAll(List<String> texts, boolean addSpecialTokens) {
        if (texts.isEmpty()) return List.of();
        long[] encodings = TokenizersLibrary.LIB.batchEncode(tokenizer.getHandle(), texts.toArray(String[]::new), addSpecialTokens);
        List<int[]> out = new ArrayList<>(encodings.length);
        try {
            for (long encoding : encodings) {
                long[] ids = TokenizersLibrary.LIB.getTokenIds(encoding);
                int[] ints = new int[ids.length];
                for (int i = 0; i < ids.length; i++) ints[i] = Math.toIntExact(ids[i]);
                out.add(ints);
            }
        } finally {
            for (long encoding : encodings) TokenizersLibrary.LIB.deleteEncoding(encoding);
        }
        return out;
    }

    /** The text of {@code ids} without special tokens (HF {@code decode(ids, skip_special_tokens=True)}). */
    public String decode(int[] ids) {
        long[] longs = new long[ids.length];
        for (int i = 0; i < ids.length; i++) longs[i] = ids[i];
        return tokenizer.decode(longs, true);
    }

    /** Tokens the special tokens add before any text (1 for a BOS-adding tokenizer, 0 for e.g. Qwen2). */
    @Override
    public int bosLength() {
        return bosLength;
    }

    /**
     * {@link #layout} of many conditions at once: every distinct cumulative text (seg_1..seg_k) of all of them is
     * tokenized once, in one batch — conditions of a sample share most of theirs (the document, document + query).
     */
    @Override
    public List<SequenceLayout> layouts(List<SegmentTexts> conditions) {
        Map<String, Integer> distinct = new LinkedHashMap<>();
        List<String[]> cumulative = new ArrayList<>(conditions.size());
        Segment[] segments = Segment.values();
        for (SegmentTexts texts : conditions) {
            String[] prefixes = new String[segments.length];
            StringBuilder text = new StringBuilder();
            for (int k = 1; k < segments.length; k++) {
                String part = texts.text(segments[k]);
                text.append(part);
                // an empty segment adds no tokens: its prefix is not tokenized (the last one always is)
                if (k == segments.length - 1 || !part.isEmpty()) {
                    prefixes[k] = text.toString();
                    distinct.putIfAbsent(prefixes[k], distinct.size());
                }
            }
            cumulative.add(prefixes);
        }
        List<int[]> ids = encodeAll(List.copyOf(distinct.keySet()));
        List<SequenceLayout> out = new ArrayList<>(conditions.size());
        for (String[] prefixes : cumulative) {
            int[] lengths = new int[segments.length];
            lengths[Segment.BOS.ordinal()] = bosLength;
            int previous = bosLength;
            for (int k = 1; k < segments.length; k++) {
                int n = prefixes[k] == null ? previous : ids.get(distinct.get(prefixes[k])).length;
                lengths[k] = n - previous;
                previous = n;
            }
            out.add(new SequenceLayout(ids.get(distinct.get(prefixes[segments.length - 1])), lengths));
        }
        return out;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
