package dkv.scorers.score;

import dkv.avro.AttentionShares;
import dkv.scorers.model.AttentionMask;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.model.KvCache;
import dkv.scorers.recipe.Segment;
import dkv.scorers.recipe.SequenceLayout;

/**
 * NONE, PREFIX_FULL, SUFFIX on a causal model: one forward over the layout, after the shared prefill with the longest
 * common prefix of ids (the bare BOS·DOC for NONE and SUFFIX, a truncated condition's BOS·PREFIX·DOC head for
 * PREFIX_FULL). BPE may merge the document's last token with what follows; then only the common prefix is reused.
 */
final class FullSequenceJob extends ScoringJob {
    private final ScoreOptions options;
    private final boolean probs;
    private int reuse;
    private KvCache past;
    private boolean asked;

    FullSequenceJob(ConditionPlan p, ScoreOptions options, HostReadback readback) {
        super(p, readback);
        this.options = options;
        this.probs = options.attention() || p.spec().getCaptureAttention();
    }

    @Override
    ForwardRequest next() {
        if (asked) return null;
        asked = true;
        SequenceLayout layout = plan().layout();
        int total = layout.size();
        int answerStart = layout.start(Segment.ANSWER);
        SharedPrefills.Reuse shared = options.shareDocumentPrefill() ? prefills().reusableFor(layout.ids()) : null;
        reuse = shared == null ? 0 : Math.min(shared.length(), answerStart - 1);
        if (reuse < 1) reuse = 0;
        past = reuse == 0 ? KvCache.empty() : reuse(shared.prefill(), reuse);
        return new ForwardRequest(layout.ids(reuse, total), ForwardRequest.consecutive(reuse, total - reuse), past,
                AttentionMask.causal(), answerStart - 1 - reuse, total - 1 - reuse, probs);
    }

    @Override
    void accept(ForwardResult r) {
        SequenceLayout layout = plan().layout();
        HostReadback.Slot answer = readback.answerLogprobs(r.logits(), layout.ids(Segment.ANSWER));
        // the document entries the answer attended to: the reused past's when the document lies within it (the
        // forward's own cache holds copies of them), so that a view of the bare prefill is checked without a kernel
        KvCache attended = layout.end(Segment.DOCUMENT) <= reuse ? past : r.cache();
        DocumentKvCheck delta = DocumentKvCheck.of(layout, prefills(), attended, layout.start(Segment.DOCUMENT), readback);
        AttentionShares shares = null;
        if (probs) {
            Segment[] columns = new Segment[layout.size()];
            for (int i = 0; i < columns.length; i++) columns[i] = layout.segmentAt(i);
            shares = AttentionShareCalculator.of(r.attention(), columns,
                    rows(layout, Segment.QUERY, reuse), rows(layout, Segment.ANSWER, reuse));
        }
        AttentionShares finalShares = shares;
        finish(() -> new ConditionScore(new AnswerLogprobs(answer.values()), DocumentKvCheck.read(delta), finalShares));
        r.close();  // its device memory is free for the next batches
    }
}
