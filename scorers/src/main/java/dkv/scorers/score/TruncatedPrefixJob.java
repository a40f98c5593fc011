package dkv.scorers.score;

import dkv.avro.AttentionShares;
import dkv.avro.RopeCorrection;
import dkv.scorers.model.AttentionMask;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.model.KvCache;
import dkv.scorers.model.Positions;
import dkv.scorers.model.Rope;
import dkv.scorers.recipe.CacheRecipe;
import dkv.scorers.recipe.Segment;
import dkv.scorers.recipe.SequenceLayout;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * PREFIX_TRUNCATED on a causal model: (1) BOS·PREFIX·DOC (a shared prefill: conditions with the same surrogate share
 * it, and a PREFIX_FULL condition with that surrogate reuses it), (2) drop PREFIX (and BOS unless kept), (3) re-rotate
 * the document keys by the dropped length with the recipe's pairing and each layer's own RoPE table, (4) QUERY·ANSWER
 * at positions continuing after the kept entries.
 */
final class TruncatedPrefixJob extends ScoringJob {
    private final CausalLm model;
    private final CacheRecipe.TruncatedPrefix recipe;
    private final ScoreOptions options;
    private final boolean probs;
    private final int bos;
    private final int prefix;
    private final int doc;
    private final int head;
    private final boolean firstAnswerRowInHead;
    private int step;
    private KvCache full;
    private Tensor headLogits;
    private KvCache truncated;
    private int keptBos;

    TruncatedPrefixJob(CausalLm model, ConditionPlan p, CacheRecipe.TruncatedPrefix recipe, ScoreOptions options, HostReadback readback) {
        super(p, readback);
        this.model = model;
        this.recipe = recipe;
        this.options = options;
        this.probs = options.attention() || p.spec().getCaptureAttention();
        SequenceLayout layout = p.layout();
        if (layout.length(Segment.SUFFIX) != 0) throw new IllegalStateException("truncated layout with a suffix");
        bos = layout.length(Segment.BOS);
        prefix = layout.length(Segment.PREFIX);
        doc = layout.length(Segment.DOCUMENT);
        head = bos + prefix + doc;
        firstAnswerRowInHead = layout.start(Segment.ANSWER) - 1 < head;
    }

    /** The head is shared unless its last row's logits are wanted (an answer right after the document). */
    @Override
    int[] sharedHead() {
        return options.shareDocumentPrefill() && !firstAnswerRowInHead ? plan().layout().ids(0, head) : null;
    }

    @Override
    void bind(SharedPrefills documentPrefills) {
        super.bind(documentPrefills);
        int[] ids = sharedHead();
        if (ids != null) {
            full = reuse(documentPrefills.exactly(ids), head);
            step = 1;
        }
    }

    @Override
    ForwardRequest next() {
        SequenceLayout layout = plan().layout();
        return switch (step) {
            case 0 -> new ForwardRequest(layout.ids(0, head), ForwardRequest.consecutive(0, head), KvCache.empty(),
                    AttentionMask.causal(), firstAnswerRowInHead ? head - 1 : 0, firstAnswerRowInHead ? head : 0, false);
            case 1 -> {
                truncated = truncate();
                int start = truncated.length();
                int total = layout.size();
                yield new ForwardRequest(layout.ids(head, total), ForwardRequest.consecutive(start, total - head),
                        truncated, AttentionMask.causal(), Math.max(layout.start(Segment.ANSWER) - 1 - head, 0),
                        total - 1 - head, probs);
            }
            default -> null;
        };
    }

    /**
     * Steps (2) and (3) for every layer at once: the kept entries, document keys re-rotated in float32 unless the
     * correction is NONE. Layers that share a RoPE table are stacked into one tensor per K and V, so a condition costs
     * a handful of kernels per table, not per layer.
     */
    private KvCache truncate() {
        keptBos = recipe.keepBos() ? bos : 0;
        long shift = -(long) (head - doc - keptBos);
        boolean rotate = recipe.correction() != RopeCorrection.NONE && shift != 0;
        // contiguous kept entries at unchanged positions: views, nothing to compute
        if (!rotate && keptBos == 0) return full.view(bos + prefix, head);
        if (!rotate && prefix == 0) return full.view(0, head);
        Positions documentPositions = full.positions().slice(bos + prefix, head);
        Positions positions = full.positions().slice(0, keptBos).concat(rotate ? documentPositions.shiftFirst(shift) : documentPositions);
        int layers = full.layers();
        Tensor[] keys = new Tensor[layers];
        Tensor[] values = new Tensor[layers];
        try (TensorScope scope = TensorScope.open()) {
            for (List<Integer> group : layersByRope()) {
                Tensor stacked = Ops.cat(0, group.stream().map(full::keys).toList());  // [layers, kvHeads, head, d]
                Tensor documentKeys = Ops.narrow(stacked, 2, bos + prefix, doc);
                if (rotate) {
                    Rope.Pairing pairing = recipe.correction() == RopeCorrection.HALF_SPLIT ? Rope.Pairing.HALF_SPLIT : Rope.Pairing.INTERLEAVED;
                    documentKeys = model.rope(group.getFirst()).rotateBy(documentKeys, shift, pairing, DType.FLOAT32);
                }
                Tensor keptKeys = keptBos == 0 ? documentKeys : Ops.cat(2, Ops.narrow(stacked, 2, 0, keptBos), documentKeys);
                Tensor keptValues = null;
                if (keptBos > 0) {
                    Tensor stackedValues = Ops.cat(0, group.stream().map(full::values).toList());
                    keptValues = Ops.cat(2, Ops.narrow(stackedValues, 2, 0, keptBos), Ops.narrow(stackedValues, 2, bos + prefix, doc));
                }
                for (int k = 0; k < group.size(); k++) {
                    int l = group.get(k);
                    // views of the stacked tensors keep their storage alive once the scope frees the stacks' handles
                    keys[l] = scope.keep(Ops.narrow(keptKeys, 0, k, 1));
                    values[l] = scope.keep(keptValues == null ? Ops.narrow(full.values(l), 2, bos + prefix, doc) : Ops.narrow(keptValues, 0, k, 1));
                }
            }
        }
        return new KvCache(List.of(keys), List.of(values), positions);
    }

    /** Layer indices grouped by the RoPE table their keys were rotated with (one group for most models). */
    private List<List<Integer>> layersByRope() {
        Map<Rope, List<Integer>> groups = new IdentityHashMap<>();
        List<List<Integer>> ordered = new ArrayList<>();
        for (int l = 0; l < full.layers(); l++) {
            List<Integer> g = groups.computeIfAbsent(model.rope(l), r -> {
                List<Integer> fresh = new ArrayList<>();
                ordered.add(fresh);
                return fresh;
            });
            g.add(l);
        }
        return ordered;
    }

    @Override
    void accept(ForwardResult r) {
        if (step == 0) {
            full = r.cache();
            headLogits = r.logits();
            step = 1;
            return;
        }
        step = 2;
        SequenceLayout layout = plan().layout();
        // an answer that ends where the head ends was predicted by the head alone: the continuation scores nothing
        Tensor logits = !firstAnswerRowInHead ? r.logits()
                : r.logits() == null ? headLogits : Ops.cat(0, headLogits, r.logits());
        HostReadback.Slot answer = readback.answerLogprobs(logits, layout.ids(Segment.ANSWER));
        DocumentKvCheck delta = DocumentKvCheck.of(layout, prefills(), truncated, keptBos, readback);
        AttentionShares shares = null;
        if (probs) {
            int start = truncated.length();
            Segment[] columns = new Segment[start + layout.size() - head];
            for (int i = 0; i < columns.length; i++) {
                columns[i] = i < keptBos ? Segment.BOS : i < start ? Segment.DOCUMENT : layout.segmentAt(head + i - start);
            }
            shares = AttentionShareCalculator.of(r.attention(), columns,
                    rows(layout, Segment.QUERY, head), rows(layout, Segment.ANSWER, head));
        }
        AttentionShares finalShares = shares;
        finish(() -> new ConditionScore(new AnswerLogprobs(answer.values()), DocumentKvCheck.read(delta), finalShares));
        // free this condition's caches for the next batches (views of a shared prefill free only handles)
        r.close();
        truncated.close();
        full.close();
        if (headLogits != null) headLogits.close();
    }
}
