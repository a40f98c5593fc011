package dkv.scorers.score;

import dkv.avro.AttentionShares;
import dkv.avro.ConditionSpec;
import dkv.avro.ModelRef;
import dkv.avro.RopeCorrection;
import dkv.avro.Sample;
import dkv.avro.ScoreRecord;
import dkv.avro.SegmentTokens;
import dkv.scorers.model.AttentionMask;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.model.KvCache;
import dkv.scorers.model.Rope;
import dkv.scorers.recipe.CacheRecipe;
import dkv.scorers.recipe.Segment;
import dkv.scorers.recipe.SegmentTexts;
import dkv.scorers.recipe.SequenceLayout;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Scores one sample under a list of conditions with a decoder-only model: builds each condition's cache by
 * its {@link CacheRecipe}, and returns the answer NLL, segment token counts, the layer-0 document K/V check
 * and (when asked) attention shares.
 *
 * <p>Work shared across conditions: the bare BOS·DOC prefill is computed once per document text and reused,
 * as a view trimmed to the longest common prefix of token ids, by every condition that starts with those
 * ids (NONE, SUFFIX, query-free, PREFIX_TRUNCATED with an empty prefix). BPE may merge the document's last
 * token with what follows; then only the common prefix is reused. The bare cache is also the reference of
 * {@code document_kv_max_abs_delta}. The conditions' remaining forwards run round by round as padded batches
 * ({@link ScoreOptions#maxBatch()}), so a sample costs a few forwards rather than one per condition.
 *
 * <p>Not thread-safe: tensors belong to the calling thread's {@link TensorScope}s.
 */
public final class SampleScorer {

    private final CausalLm model;
    private final String snapshotRevision;
    private final ForwardBatcher batcher;

    public SampleScorer(CausalLm model) {
        this.model = model;
        this.snapshotRevision = model.snapshot().revision();
        this.batcher = new ForwardBatcher(model);
    }

    public CausalLm model() {
        return model;
    }

    /** A condition with its recipe and token layout, resolved before any compute. */
    private record Planned(ConditionSpec spec, CacheRecipe recipe, SegmentTexts texts, SequenceLayout layout) {}

    /** The bare BOS·DOC prefill of one document text. */
    private record BarePrefill(int[] ids, int bos, KvCache cache, double millis) {}

    /** What scoring one condition produced before it becomes a record. */
    private record ConditionScore(AnswerLogprobs answer, Double documentKvDelta, AttentionShares attention) {}

    /** One sample with the conditions to score on it. */
    public record SampleWork(Sample sample, List<ConditionSpec> conditions) {}

    /**
     * Scores every condition; an unsupported condition fails the whole sample before any compute
     * ({@link dkv.scorers.recipe.UnsupportedConditionException}).
     */
    public List<ScoreRecord> score(Sample sample, List<ConditionSpec> conditions, ScoreOptions options) {
        return scoreAll(List.of(new SampleWork(sample, conditions)), options).getFirst();
    }

    /**
     * Scores several samples together: their bare prefills run as one batch, and their conditions' forwards
     * share the rounds of batches. Records come back per sample in condition order. An unsupported condition
     * in any sample fails the call before any compute.
     */
    public List<List<ScoreRecord>> scoreAll(List<SampleWork> work, ScoreOptions options) {
        List<List<Planned>> plans = new ArrayList<>();
        for (SampleWork w : work) plans.add(plan(w.sample(), w.conditions()));
        List<List<ScoreRecord>> records = new ArrayList<>();
        try (TensorScope _ = TensorScope.open()) {
            // one bare prefill per distinct document text, all in one batched pass
            Map<String, BarePrefill> bare = prefillBare(plans.stream().flatMap(List::stream)
                    .map(p -> p.texts().document()).distinct().toList(), options);
            Map<String, Integer> usersPerDocument = new HashMap<>();
            HostReadback readback = new HostReadback();
            List<List<Job>> jobs = new ArrayList<>();
            for (List<Planned> samplePlans : plans) {
                List<Job> sampleJobs = new ArrayList<>();
                for (Planned p : samplePlans) {
                    BarePrefill b = bare.get(p.texts().document());
                    usersPerDocument.merge(p.texts().document(), 1, Integer::sum);
                    sampleJobs.add(switch (p.recipe()) {
                        case CacheRecipe.FullSequence _ -> new FullSequenceJob(p, b, options, readback);
                        case CacheRecipe.TruncatedPrefix t -> new TruncatedPrefixJob(p, t, b, options, readback);
                    });
                }
                jobs.add(sampleJobs);
            }
            run(jobs.stream().flatMap(List::stream).toList(), options);
            readback.fetch();  // the call's one wait for the device
            for (int s = 0; s < work.size(); s++) {
                List<ScoreRecord> sampleRecords = new ArrayList<>();
                for (Job job : jobs.get(s)) {
                    String document = job.plan().texts().document();
                    double millis = job.millis() + job.bare().millis() / usersPerDocument.get(document);
                    sampleRecords.add(record(work.get(s).sample(), job.plan(), job.result(), millis, options));
                }
                records.add(sampleRecords);
            }
        }
        return records;
    }

    private List<Planned> plan(Sample sample, List<ConditionSpec> conditions) {
        List<Planned> plans = new ArrayList<>();
        for (ConditionSpec c : conditions) {
            CacheRecipe recipe = CacheRecipe.of(c, model.family());
            SegmentTexts texts = SegmentTexts.of(c, sample);
            SequenceLayout layout = model.tokenizer().layout(texts);
            if (layout.length(Segment.ANSWER) == 0) {
                throw new IllegalArgumentException("sample " + sample.getId() + ", condition '" + c.getName()
                        + "': the answer has no tokens");
            }
            plans.add(new Planned(c, recipe, texts, layout));
        }
        return plans;
    }

    /**
     * Runs the jobs' forwards round by round: every unfinished job contributes its next forward, and the
     * forwards of a round run as length-sorted padded batches within the options' row and token budgets
     * ({@link ForwardBatcher}). A batch's time is shared among its rows.
     */
    private void run(List<Job> jobs, ScoreOptions options) {
        while (true) {
            List<Job> pending = new ArrayList<>();
            List<ForwardRequest> requests = new ArrayList<>();
            for (Job job : jobs) {
                long t0 = System.nanoTime();
                ForwardRequest r = job.next();
                job.addMillis((System.nanoTime() - t0) / 1e6);
                if (r != null) {
                    pending.add(job);
                    requests.add(r);
                }
            }
            if (requests.isEmpty()) return;
            batcher.run(requests, options.maxBatch(), options.maxTokens(), (i, result, share) -> {
                Job job = pending.get(i);
                long t1 = System.nanoTime();
                job.accept(result);
                job.addMillis(share + (System.nanoTime() - t1) / 1e6);
            });
        }
    }

    /** BOS·DOC prefills of the given document texts, batched; each cache is a view kept in the current scope. */
    private Map<String, BarePrefill> prefillBare(List<String> documents, ScoreOptions options) {
        Map<String, BarePrefill> out = new HashMap<>();
        int bos = model.tokenizer().bosLength();
        List<int[]> ids = documents.stream().map(model.tokenizer()::encode).toList();
        List<ForwardRequest> requests = ids.stream().map(i -> new ForwardRequest(i, ForwardRequest.consecutive(0, i.length),
                KvCache.empty(), AttentionMask.causal(), 0, 0, false)).toList();
        batcher.run(requests, options.maxBatch(), options.maxTokens(), (i, result, millis) ->
                out.put(documents.get(i), new BarePrefill(ids.get(i), bos, result.cache(), millis)));
        return out;
    }

    /** One condition's way to its score: a sequence of forwards, each asked for by {@link #next()}. */
    private abstract static class Job {
        private final Planned plan;
        private final BarePrefill bare;
        final HostReadback readback;
        private double millis;
        private java.util.function.Supplier<ConditionScore> pending;
        private ConditionScore result;

        Job(Planned plan, BarePrefill bare, HostReadback readback) {
            this.plan = plan;
            this.bare = bare;
            this.readback = readback;
        }

        /** The next forward this condition needs, or null when it is scored. */
        abstract ForwardRequest next();

        /** The result of the forward {@link #next()} returned last. */
        abstract void accept(ForwardResult r);

        Planned plan() {
            return plan;
        }

        BarePrefill bare() {
            return bare;
        }

        double millis() {
            return millis;
        }

        void addMillis(double ms) {
            millis += ms;
        }

        /** The score, once its device values have been read ({@link HostReadback#fetch}). */
        ConditionScore result() {
            if (pending == null) throw new IllegalStateException("condition " + plan.spec().getName() + " not scored");
            if (result == null) result = pending.get();
            return result;
        }

        /** The score as it will read after the readback's fetch. */
        void finish(java.util.function.Supplier<ConditionScore> score) {
            pending = score;
        }
    }

    // ------------------------------------------------------------------------------------------ NONE, PREFIX_FULL, SUFFIX

    /** One causal forward over the layout, after the bare prefill trimmed to the longest common prefix of ids. */
    private final class FullSequenceJob extends Job {
        private final ScoreOptions options;
        private final boolean probs;
        private int reuse;
        private boolean asked;

        FullSequenceJob(Planned p, BarePrefill bare, ScoreOptions options, HostReadback readback) {
            super(p, bare, readback);
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
            reuse = options.shareDocumentPrefill() ? Math.min(commonPrefix(layout.ids(), bare().ids()), answerStart - 1) : 0;
            if (reuse < 1) reuse = 0;
            KvCache past = reuse == 0 ? KvCache.empty() : bare().cache().view(0, reuse);
            return new ForwardRequest(layout.ids(reuse, total), ForwardRequest.consecutive(reuse, total - reuse), past,
                    AttentionMask.causal(), answerStart - 1 - reuse, total - 1 - reuse, probs);
        }

        @Override
        void accept(ForwardResult r) {
            SequenceLayout layout = plan().layout();
            HostReadback.Slot answer = readback.answerLogprobs(r.logits(), layout.ids(Segment.ANSWER));
            PendingDelta delta = documentDelta(layout, bare(), r.cache(), layout.start(Segment.DOCUMENT), readback);
            AttentionShares shares = null;
            if (probs) {
                Segment[] columns = new Segment[layout.size()];
                for (int i = 0; i < columns.length; i++) columns[i] = segmentAt(layout, i);
                shares = AttentionShareCalculator.of(r.attention(), columns,
                        rows(layout, Segment.QUERY, reuse), rows(layout, Segment.ANSWER, reuse));
            }
            AttentionShares finalShares = shares;
            finish(() -> new ConditionScore(new AnswerLogprobs(answer.values()), PendingDelta.read(delta), finalShares));
            r.close();  // its device memory is free for the next batches
        }
    }

    // ------------------------------------------------------------------------------------------ PREFIX_TRUNCATED

    /**
     * (1) BOS·PREFIX·DOC (the bare prefill when the ids are the same), (2) drop PREFIX (and BOS unless kept),
     * (3) re-rotate the document keys by the dropped length with the recipe's pairing, (4) QUERY·ANSWER at
     * positions continuing after the kept entries.
     */
    private final class TruncatedPrefixJob extends Job {
        private final CacheRecipe.TruncatedPrefix recipe;
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

        TruncatedPrefixJob(Planned p, CacheRecipe.TruncatedPrefix recipe, BarePrefill bare, ScoreOptions options,
                           HostReadback readback) {
            super(p, bare, readback);
            this.recipe = recipe;
            this.probs = options.attention() || p.spec().getCaptureAttention();
            SequenceLayout layout = p.layout();
            if (layout.length(Segment.SUFFIX) != 0) throw new IllegalStateException("truncated layout with a suffix");
            bos = layout.length(Segment.BOS);
            prefix = layout.length(Segment.PREFIX);
            doc = layout.length(Segment.DOCUMENT);
            head = bos + prefix + doc;
            firstAnswerRowInHead = layout.start(Segment.ANSWER) - 1 < head;
            boolean reuse = options.shareDocumentPrefill() && !firstAnswerRowInHead
                    && Arrays.equals(layout.ids(0, head), bare.ids());
            if (reuse) {
                full = bare.cache().view(0, head);
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

        /** Steps (2) and (3): the kept entries, document keys re-rotated in float32 unless the correction is NONE. */
        private KvCache truncate() {
            keptBos = recipe.keepBos() ? bos : 0;
            KvCache documentPart = full.view(bos + prefix, head);
            KvCache kept = keptBos > 0 ? KvCache.concat(full.view(0, bos), documentPart) : documentPart;
            long shift = -(long) (head - doc - keptBos);
            if (recipe.correction() == RopeCorrection.NONE || shift == 0) return kept;
            Rope.Pairing pairing = recipe.correction() == RopeCorrection.HALF_SPLIT
                    ? Rope.Pairing.HALF_SPLIT : Rope.Pairing.INTERLEAVED;
            long[] positions = kept.positions();
            for (int i = keptBos; i < positions.length; i++) positions[i] += shift;
            return kept.withKeys(k -> rerotateDocument(k, keptBos, shift, pairing), positions);
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
            Tensor logits = firstAnswerRowInHead ? Ops.cat(0, headLogits, r.logits()) : r.logits();
            HostReadback.Slot answer = readback.answerLogprobs(logits, layout.ids(Segment.ANSWER));
            PendingDelta delta = documentDelta(layout, bare(), truncated, keptBos, readback);
            AttentionShares shares = null;
            if (probs) {
                int start = truncated.length();
                Segment[] columns = new Segment[start + layout.size() - head];
                for (int i = 0; i < columns.length; i++) {
                    columns[i] = i < keptBos ? Segment.BOS : i < start ? Segment.DOCUMENT : segmentAt(layout, head + i - start);
                }
                shares = AttentionShareCalculator.of(r.attention(), columns,
                        rows(layout, Segment.QUERY, head), rows(layout, Segment.ANSWER, head));
            }
            AttentionShares finalShares = shares;
            finish(() -> new ConditionScore(new AnswerLogprobs(answer.values()), PendingDelta.read(delta), finalShares));
            // free this condition's caches for the next batches (views of the shared bare prefill free only handles)
            r.close();
            truncated.close();
            full.close();
            if (headLogits != null) headLogits.close();
        }
    }

    /** Keys [1, kvHeads, kept, d] with entries from {@code from} on rotated by {@code shift}, in float32. */
    private Tensor rerotateDocument(Tensor keys, int from, long shift, Rope.Pairing pairing) {
        long n = keys.size(2);
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor rotated = model.rope().rotateBy(Ops.narrow(keys, 2, from, n - from), shift, pairing, DType.FLOAT32);
            result = scope.keep(from == 0 ? rotated : Ops.cat(2, Ops.narrow(keys, 2, 0, from), rotated));
        }
        return result;
    }

    // ------------------------------------------------------------------------------------------ checks and helpers

    /** Layer-0 max |ΔK| and |ΔV| on the device, read with the call's other values; null slots: no entries (0). */
    private record PendingDelta(HostReadback.Slot keys, HostReadback.Slot values) {
        static Double read(PendingDelta d) {
            if (d == null) return null;
            if (d.keys == null) return 0.0;
            return Math.max(d.keys.values()[0], d.values.values()[0]);
        }
    }

    /**
     * Layer-0 max |ΔK|, |ΔV| of the document entries against the bare cache, when the condition's document
     * token ids are the bare ones (else null: there is nothing to compare entry by entry).
     */
    private static PendingDelta documentDelta(SequenceLayout layout, BarePrefill bare, KvCache cache, int documentStart,
                                              HostReadback readback) {
        int[] docIds = layout.ids(Segment.DOCUMENT);
        int[] bareDoc = Arrays.copyOfRange(bare.ids(), bare.bos(), bare.ids().length);
        if (!Arrays.equals(docIds, bareDoc) || cache.layers() == 0) return null;
        int d = docIds.length;
        if (d == 0) return new PendingDelta(null, null);
        Tensor k;
        Tensor v;
        try (TensorScope scope = TensorScope.open()) {
            k = scope.keep(maxAbsDiffOnDevice(Ops.narrow(cache.keys(0), 2, documentStart, d), Ops.narrow(bare.cache().keys(0), 2, bare.bos(), d)));
            v = scope.keep(maxAbsDiffOnDevice(Ops.narrow(cache.values(0), 2, documentStart, d), Ops.narrow(bare.cache().values(0), 2, bare.bos(), d)));
        }
        return new PendingDelta(readback.scalar(k), readback.scalar(v));
    }

    /** max |a − b| over all entries, in float32, as a one-element tensor on their device (non-empty inputs). */
    static Tensor maxAbsDiffOnDevice(Tensor a, Tensor b) {
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor diff = Ops.reshape(Ops.sub(Ops.to(a, DType.FLOAT32), Ops.to(b, DType.FLOAT32)), -1);
            result = scope.keep(Ops.max(Ops.cat(0, diff, Ops.neg(diff)), 0, false));
        }
        return result;
    }

    static double maxAbsDiff(Tensor a, Tensor b) {
        if (a.numel() == 0) return 0.0;
        try (TensorScope _ = TensorScope.open()) {
            return Tensors.toDoubleArray(maxAbsDiffOnDevice(a, b))[0];
        }
    }

    private static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length);
        int i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }

    private static Segment segmentAt(SequenceLayout layout, int index) {
        for (Segment s : Segment.values()) {
            if (index < layout.end(s)) return s;
        }
        throw new IndexOutOfBoundsException(index + " outside the layout of " + layout.size());
    }

    /** Rows [from, to) of a segment within a forward whose first token is the layout's {@code offset}. */
    private static int[] rows(SequenceLayout layout, Segment s, int offset) {
        return new int[] {layout.start(s) - offset, layout.end(s) - offset};
    }

    private ScoreRecord record(Sample sample, Planned p, ConditionScore s, double millis, ScoreOptions options) {
        SequenceLayout l = p.layout();
        ModelRef modelRef = ModelRef.newBuilder().setId(model.snapshot().name())
                .setRevision(options.modelRevision() != null ? options.modelRevision() : snapshotRevision).build();
        List<Float> tokenLogprobs = null;
        if (options.tokenLogprobs()) {
            tokenLogprobs = new ArrayList<>();
            for (double lp : s.answer().logprobs()) tokenLogprobs.add((float) lp);
        }
        return ScoreRecord.newBuilder()
                .setExperimentId(options.experimentId())
                .setSampleId(sample.getId())
                .setCondition(p.spec().getName())
                .setGroup(p.spec().getGroup())
                .setModel(modelRef)
                .setPlanHash(options.planHash())
                .setNllMean(s.answer().nllMean())
                .setNllSum(s.answer().nllSum())
                .setAnswerTokens(s.answer().tokens())
                .setTokenLogprobs(tokenLogprobs)
                .setSegments(SegmentTokens.newBuilder()
                        .setBos(l.length(Segment.BOS)).setPrefix(l.length(Segment.PREFIX))
                        .setDocument(l.length(Segment.DOCUMENT)).setSuffix(l.length(Segment.SUFFIX))
                        .setQuery(l.length(Segment.QUERY)).setAnswer(l.length(Segment.ANSWER)).build())
                .setDocumentKvMaxAbsDelta(s.documentKvDelta())
                .setScoreMs(millis)
                .setWorker(options.worker())
                .setDevice(model.device().toString())
                .setDtype(model.dtype().toString())
                .setAttention(s.attention())
                .setMeta(options.meta())
                .setScoredAt(System.currentTimeMillis())
                .build();
    }
}
