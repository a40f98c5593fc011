package dkv.scorers.score;

import dkv.avro.AttentionShares;
import dkv.avro.CrossMask;
import dkv.scorers.model.AttentionMask;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.model.KvCache;
import dkv.scorers.model.Positions;
import dkv.scorers.recipe.CacheRecipe;
import dkv.scorers.recipe.Segment;
import dkv.scorers.recipe.SequenceLayout;
import java.util.Arrays;

/**
 * NONE, ENCODER_COENCODE and ENCODER_COENCODE_MASKED on an encoder-decoder (docs: DESIGN.md "Encoder-decoder layout"):
 * the encoder memory of BOS·PREFIX·DOC comes from {@link EncoderPasses} (shared with every condition of that input),
 * then one decoder forward over BOS·QUERY·ANSWER cross-attends to the encoder tokens the recipe leaves visible. Cross
 * keys carry no position, so hiding the prefix is a mask, never a correction. The document K/V check has no meaning
 * here (the decoder has no document entries): it stays null.
 */
final class EncoderDecoderJob extends ScoringJob {
    private final CacheRecipe.CoEncoded recipe;
    private final boolean probs;
    private EncoderPasses.Pass pass;
    private boolean asked;

    EncoderDecoderJob(ConditionPlan p, CacheRecipe.CoEncoded recipe, ScoreOptions options, HostReadback readback) {
        super(p, readback);
        this.recipe = recipe;
        this.probs = options.attention() || p.spec().getCaptureAttention();
    }

    /** The encoder input: BOS·PREFIX·DOC. */
    int[] encoderIds() {
        return plan().encoder().ids();
    }

    /** The encoder pass this condition reads (its time is then shared too). */
    void read(EncoderPasses.Pass p) {
        pass = p;
        p.users++;
    }

    double encoderMillis() {
        return pass == null ? 0 : pass.millisPerUser();
    }

    /**
     * Which encoder tokens the decoder may see: all, or all but the PREFIX segment, or (the research's off-by-one)
     * all but positions [0, P), which hides BOS and keeps the last prefix token visible.
     */
    boolean[] visible() {
        SequenceLayout encoder = plan().encoder();
        boolean[] visible = new boolean[encoder.size()];
        Arrays.fill(visible, true);
        if (recipe.masked()) {
            int prefix = encoder.length(Segment.PREFIX);
            int from = recipe.hide() == CrossMask.RESEARCH_OFF_BY_ONE ? 0 : encoder.start(Segment.PREFIX);
            Arrays.fill(visible, from, from + prefix, false);
        }
        return visible;
    }

    @Override
    ForwardRequest next() {
        if (asked) return null;
        asked = true;
        SequenceLayout layout = plan().layout();
        int total = layout.size();
        int answerStart = layout.start(Segment.ANSWER);
        return new ForwardRequest(layout.ids(), Positions.consecutive(0, total), KvCache.empty(), AttentionMask.causal(),
                answerStart - 1, total - 1, probs, new ForwardRequest.Cross(pass.memory, visible()));
    }

    /** Answer log-probs; shares of the decoder's own segments ({@code layers}) and of the encoder's ({@code cross_layers}). */
    @Override
    void accept(ForwardResult r) {
        SequenceLayout layout = plan().layout();
        HostReadback.Slot answer = readback.answerLogprobs(r.logits(), layout.ids(Segment.ANSWER));
        AttentionShares shares = null;
        if (probs) {
            int[] queryRows = rows(layout, Segment.QUERY, 0);
            int[] answerRows = rows(layout, Segment.ANSWER, 0);
            AttentionShares self = AttentionShareCalculator.of(r.attention(), columns(layout), queryRows, answerRows);
            AttentionShares cross = AttentionShareCalculator.of(r.crossAttention(), columns(plan().encoder()), queryRows, answerRows);
            shares = AttentionShares.newBuilder().setLayers(self.getLayers()).setCrossLayers(cross.getLayers()).build();
        }
        AttentionShares finalShares = shares;
        finish(() -> new ConditionScore(new AnswerLogprobs(answer.values()), null, finalShares));
        r.close();
    }

    private static Segment[] columns(SequenceLayout layout) {
        Segment[] columns = new Segment[layout.size()];
        for (int i = 0; i < columns.length; i++) columns[i] = layout.segmentAt(i);
        return columns;
    }
}
