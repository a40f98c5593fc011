package dkv.scorers.model;

import dkv.scorers.recipe.SegmentTexts;
import dkv.scorers.recipe.SequenceLayout;
import java.util.List;

/**
 * Turns texts into token ids and a condition's segment texts into one stream's {@link SequenceLayout}, with the
 * segment boundaries by growth (never a segment tokenized alone). Families whose tokenization is not one HF
 * {@code tokenizer.json} pass (GLM's two-part prompt + continuation) implement their own.
 */
public interface LayoutTokenizer extends AutoCloseable {

    /** Token ids of each text, with the tokenizer's special tokens. */
    List<int[]> encodeAll(List<String> texts);

    default int[] encode(String text) {
        return encodeAll(List.of(text)).getFirst();
    }

    /** Tokens the special tokens add before any text (1 for a BOS-adding tokenizer, 0 for e.g. Qwen2). */
    int bosLength();

    /** Tokens the special tokens add after any text (GLM's {@code [gMASK] <sop>}: 2; none for HF decoders). */
    default int closingLength() {
        return 0;
    }

    /** Each condition's texts tokenized once, with each segment's incremental length. */
    List<SequenceLayout> layouts(List<SegmentTexts> conditions);

    default SequenceLayout layout(SegmentTexts texts) {
        return layouts(List.of(texts)).getFirst();
    }

    @Override
    void close();
}
