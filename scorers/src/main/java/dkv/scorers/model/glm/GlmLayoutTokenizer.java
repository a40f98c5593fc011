package dkv.scorers.model.glm;

import dkv.scorers.model.LayoutTokenizer;
import dkv.scorers.recipe.Segment;
import dkv.scorers.recipe.SegmentTexts;
import dkv.scorers.recipe.SequenceLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The prefix-LM layout's tokenization (DESIGN.md "Prefix-LM layout") over {@link ChatGlmTokenizer}, in two parts,
 * each with segment lengths by growth inside it: the prompt TEXT = PREFIX·DOCUMENT·SUFFIX, closed by SPECIAL =
 * {@code [gMASK] <sop>} as the tokenizer closes every prompt; then the continuation QUERY·ANSWER as a new
 * SentencePiece text (it starts with the dummy-prefix piece, as in the model's generation and the research's
 * scoring). Nothing comes before the text: {@link #bosLength()} is 0.
 */
public final class GlmLayoutTokenizer implements LayoutTokenizer {

    private static final Segment[] TEXT = {Segment.PREFIX, Segment.DOCUMENT, Segment.SUFFIX};
    private static final Segment[] CONTINUATION = {Segment.QUERY, Segment.ANSWER};

    private final ChatGlmTokenizer tokenizer;

    private GlmLayoutTokenizer(ChatGlmTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Opens the snapshot's {@code ice_text.model} with its special ids (see {@link ChatGlmTokenizer#open}). */
    public static GlmLayoutTokenizer open(Path dir) {
        return new GlmLayoutTokenizer(ChatGlmTokenizer.open(dir));
    }

    /** Each text as a prompt: its ids, then {@code [gMASK] <sop>} (the special tokens ChatGLM adds). */
    @Override
    public List<int[]> encodeAll(List<String> texts) {
        return texts.stream().map(tokenizer::encodePrompt).toList();
    }

    @Override
    public int bosLength() {
        return 0;
    }

    /** {@code [gMASK] <sop>}. */
    @Override
    public int closingLength() {
        return 2;
    }

    /** Every condition's two parts; each distinct cumulative text (shared by most conditions of a sample) encoded once. */
    @Override
    public List<SequenceLayout> layouts(List<SegmentTexts> conditions) {
        Map<String, int[]> encoded = new HashMap<>();
        List<SequenceLayout> out = new ArrayList<>(conditions.size());
        for (SegmentTexts texts : conditions) {
            int[] lengths = new int[Segment.values().length];
            int[] text = grow(texts, TEXT, lengths, encoded);
            int[] continuation = grow(texts, CONTINUATION, lengths, encoded);
            lengths[Segment.SPECIAL.ordinal()] = 2;
            int[] ids = Arrays.copyOf(text, text.length + 2 + continuation.length);
            ids[text.length] = tokenizer.gmaskId();
            ids[text.length + 1] = tokenizer.sopId();
            System.arraycopy(continuation, 0, ids, text.length + 2, continuation.length);
            out.add(new SequenceLayout(ids, lengths));
        }
        return out;
    }

    /**
     * The ids of one part's concatenated segments as one SentencePiece text, and into {@code lengths} each segment's
     * length by growth: {@code len(tok(s_1..s_k)) - len(tok(s_1..s_{k-1}))}, never a segment tokenized alone.
     */
    private int[] grow(SegmentTexts texts, Segment[] part, int[] lengths, Map<String, int[]> encoded) {
        StringBuilder acc = new StringBuilder();
        int[] ids = new int[0];
        for (Segment s : part) {
            String piece = texts.text(s);
            if (piece.isEmpty()) continue;  // the same text again: no tokens
            acc.append(piece);
            int before = ids.length;
            ids = encoded.computeIfAbsent(acc.toString(), tokenizer::encode);
            lengths[s.ordinal()] = ids.length - before;
        }
        return ids;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
