package dkv.scorers.score;

import dkv.avro.AttentionShares;
import dkv.avro.RopeCorrection;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.model.KvCache;
import dkv.scorers.model.Positions;
import dkv.scorers.model.PrefixLm;
import dkv.scorers.recipe.Segment;
import dkv.scorers.recipe.SequenceLayout;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import java.util.ArrayList;
import java.util.List;

/**
 * A prefix LM's conditions ({@link dkv.scorers.recipe.CacheRecipe.PromptContinuation} and
 * {@link dkv.scorers.recipe.CacheRecipe.TruncatedPrompt}): (1) the prompt TEXT·[gMASK]·&lt;sop&gt;, a shared prefill
 * per distinct TEXT (reused only whole: its entries depend on all of TEXT), whose &lt;sop&gt; row predicts the first
 * continuation token; (2) truncation only: drop the PREFIX entries and, with HALF_SPLIT, rotate the position channel
 * of every kept key by −P (block channel and values untouched); (3) QUERY·ANSWER after it at the (truncated)
 * [gMASK] index, T − P whatever the correction, causal inside itself.
 */
final class PromptContinuationJob extends ScoringJob {
    private final PrefixLm model;
    private final RopeCorrection correction;
    private final ScoreOptions options;
    private final boolean probs;
    private final int prompt;
    private final int text;
    private final int drop;
    private int step;
    private KvCache full;
    private Tensor sopLogits;
    private boolean ownPrefill;
    private KvCache past;

    /** @param correction the truncation's re-rotation, or null for a condition that keeps its whole prompt */
    PromptContinuationJob(PrefixLm model, ConditionPlan p, RopeCorrection correction, ScoreOptions options, HostReadback readback) {
        super(p, readback);
        this.model = model;
        this.correction = correction;
        this.options = options;
        this.probs = options.attention() || p.spec().getCaptureAttention();
        SequenceLayout layout = p.layout();
        if (layout.length(Segment.BOS) != 0 || layout.length(Segment.SPECIAL) != 2) {
            throw new IllegalStateException("not a prefix-LM layout (no BOS, [gMASK] <sop> after the text): " + layout);
        }
        text = layout.start(Segment.SPECIAL);
        prompt = layout.end(Segment.SPECIAL);
        drop = correction == null ? 0 : layout.length(Segment.PREFIX);
    }

    /** The whole prompt, prefilled once per call for every condition with the same TEXT. */
    @Override
    int[] sharedHead() {
        return options.shareDocumentPrefill() ? plan().layout().ids(0, prompt) : null;
    }

    @Override
    void bind(SharedPrefills documentPrefills) {
        super.bind(documentPrefills);
        int[] ids = sharedHead();
        if (ids != null) {
            SharedPrefills.Prefill shared = documentPrefills.exactly(ids);
            full = reuse(shared, prompt);
            sopLogits = shared.lastLogits;
            step = 1;
        }
    }

    @Override
    ForwardRequest next() {
        SequenceLayout layout = plan().layout();
        return switch (step) {
            case 0 -> PromptLayout.prefill(layout.ids(0, prompt));
            case 1 -> {
                past = truncate();
                int total = layout.size();
                // continuation token k is predicted by row k − 1 (row −1: the prompt's <sop>)
                int firstAnswer = layout.start(Segment.ANSWER) - prompt;
                yield PromptLayout.continuation(layout.ids(prompt, total), past, text - drop, Math.max(firstAnswer - 1, 0),
                        total - prompt - 1, probs);
            }
            default -> null;
        };
    }

    /**
     * The cache the continuation attends to: the prompt's entries from the first kept one, every layer's kept keys
     * re-rotated in one stacked tensor (float32 arithmetic) with HALF_SPLIT, views otherwise.
     */
    private KvCache truncate() {
        if (drop == 0 || correction == RopeCorrection.NONE) return full.view(drop, prompt);
        int layers = full.layers();
        int kept = prompt - drop;
        Positions positions = full.positions().slice(drop, prompt).shiftFirst(-drop);
        List<Tensor> keys = new ArrayList<>(layers);
        List<Tensor> values = new ArrayList<>(layers);
        try (TensorScope scope = TensorScope.open()) {
            List<Tensor> perLayer = new ArrayList<>(layers);
            for (int l = 0; l < layers; l++) perLayer.add(Ops.narrow(full.keys(l), 2, drop, kept));
            Tensor rotated = model.rope2D().rotateFirstChannelBy(Ops.cat(0, perLayer), -drop, DType.FLOAT32);
            for (int l = 0; l < layers; l++) {
                // views of the stacked tensor keep its storage alive once the scope frees its handle
                keys.add(scope.keep(Ops.narrow(rotated, 0, l, 1)));
                values.add(scope.keep(Ops.narrow(full.values(l), 2, drop, kept)));
            }
        }
        return new KvCache(keys, values, positions);
    }

    @Override
    void accept(ForwardResult r) {
        if (step == 0) {
            full = r.cache();
            sopLogits = r.logits();
            ownPrefill = true;
            step = 1;
            return;
        }
        step = 2;
        SequenceLayout layout = plan().layout();
        // an answer right after <sop> (no query tokens) takes its first log-prob from the prompt's row
        boolean fromSop = layout.start(Segment.ANSWER) == prompt;
        Tensor logits = !fromSop ? r.logits() : r.logits() == null ? sopLogits : Ops.cat(0, sopLogits, r.logits());
        HostReadback.Slot answer = readback.answerLogprobs(logits, layout.ids(Segment.ANSWER));
        DocumentKvCheck delta = DocumentKvCheck.of(layout, prefills(), past, layout.start(Segment.DOCUMENT) - drop, readback);
        AttentionShares shares = null;
        if (probs) {
            int cached = past.length();
            Segment[] columns = new Segment[cached + layout.size() - prompt];
            for (int i = 0; i < columns.length; i++) columns[i] = layout.segmentAt(i < cached ? drop + i : prompt + i - cached);
            shares = AttentionShareCalculator.of(r.attention(), columns,
                    rows(layout, Segment.QUERY, prompt), rows(layout, Segment.ANSWER, prompt));
        }
        AttentionShares finalShares = shares;
        finish(() -> new ConditionScore(new AnswerLogprobs(answer.values()), DocumentKvCheck.read(delta), finalShares));
        // free this condition's caches for the next batches (views of a shared prefill free only handles)
        r.close();
        past.close();
        full.close();
        if (ownPrefill) sopLogits.close();
    }
}
