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
 * <p>Work shared across conditions: every distinct cache head is prefilled once per call — the bare BOS·DOC of
 * each document text, and each PREFIX_TRUNCATED condition's BOS·PREFIX·DOC (conditions with the same surrogate
 * share it, whatever their RoPE correction). A condition that starts with a head's ids reuses it as a view
 * trimmed to the longest common prefix (NONE, SUFFIX and query-free after the bare head; PREFIX_FULL after its
 * surrogate's truncated head when a PREFIX_TRUNCATED condition with the same surrogate is in the call, else after
 * the bare head's BOS only). BPE may merge the document's last token with what follows; then only the common
 * prefix is reused. Shared heads stay on the device until the call ends (a call of many samples holds all of their
 * heads at once: the price of batching their continuations together). The bare cache is also the reference of
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

    /**
     * One prefill shared by the conditions whose tokens start with its ids: the bare BOS·DOC of a document text,
     * or a truncated condition's BOS·PREFIX·DOC head. Its time is split among the conditions that used it.
     */
    private static final class SharedPrefill {
        final int[] ids;
        final KvCache cache;
        final double millis;
        int users;

        SharedPrefill(int[] ids, KvCache cache, double millis) {
            this.ids = ids;
            this.cache = cache;
            this.millis = millis;
        }

        /** Entries [0, length) for one more user. */
        KvCache use(int length) {
            users++;
            return cache.view(0, length);
        }

        double millisPerUser() {
            return users == 0 ? 0 : millis / users;
        }
    }

    /** A document's bare BOS·DOC prefill (the reference of the document K/V check) and every prefill of its text. */
    private record DocumentPrefills(int bos, SharedPrefill bare, List<SharedPrefill> all) {

        /** The prefill sharing the longest common prefix with {@code ids} (null when none shares any token). */
        SharedPrefill longestCommonPrefix(int[] ids) {
            SharedPrefill best = null;
            int bestLength = 0;
            for (SharedPrefill p : all) {
                int n = commonPrefix(ids, p.ids);
                if (n > bestLength) {
                    best = p;
                    bestLength = n;
                }
            }
            return best;
        }

        /** The prefill of exactly these ids, or null. */
        SharedPrefill exactly(int[] ids) {
            for (SharedPrefill p : all) if (Arrays.equals(p.ids, ids)) return p;
            return null;
        }
    }

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
     * Scores several samples together: their shared prefills run as one batch, and their conditions' forwards
     * share the rounds of batches. Records come back per sample in condition order. An unsupported condition
     * in any sample fails the call before any compute.
     */
    public List<List<ScoreRecord>> scoreAll(List<SampleWork> work, ScoreOptions options) {
        long started = System.nanoTime();
        List<List<Planned>> plans = plan(work);
        List<List<ScoreRecord>> records = new ArrayList<>();
        try (TensorScope _ = TensorScope.open()) {
            HostReadback readback = new HostReadback();
            List<List<Job>> jobs = new ArrayList<>();
            for (List<Planned> samplePlans : plans) {
                List<Job> sampleJobs = new ArrayList<>();
                for (Planned p : samplePlans) {
                    sampleJobs.add(switch (p.recipe()) {
                        case CacheRecipe.FullSequence _ -> new FullSequenceJob(p, options, readback);
                        case CacheRecipe.TruncatedPrefix t -> new TruncatedPrefixJob(p, t, options, readback);
                    });
                }
                jobs.add(sampleJobs);
            }
            List<Job> all = jobs.stream().flatMap(List::stream).toList();
            Map<String, DocumentPrefills> prefills = prefill(all, options);
            for (Job job : all) job.bind(prefills.get(job.plan().texts().document()));
            run(all, options);
            readback.fetch();  // the call's one wait for the device
            Map<String, Integer> conditionsPerDocument = new HashMap<>();
            for (Job job : all) conditionsPerDocument.merge(job.plan().texts().document(), 1, Integer::sum);
            Map<Job, Double> millis = new HashMap<>();
            double attributed = 0;
            for (Job job : all) {
                String document = job.plan().texts().document();
                SharedPrefill bare = prefills.get(document).bare();
                // a bare prefill that no condition reused was still paid for, as every condition's reference
                double ms = job.millis() + (job.used() == null ? 0 : job.used().millisPerUser())
                        + (bare.users == 0 ? bare.millis / conditionsPerDocument.get(document) : 0);
                millis.put(job, ms);
                attributed += ms;
            }
            // the rest of the call (tokenizing, planning, the readback's wait) shared in proportion, so a call's
            // score_ms add up to its wall time
            double wall = (System.nanoTime() - started) / 1e6;
            double scale = attributed > 0 ? Math.max(wall, attributed) / attributed : 0;
            for (int s = 0; s < work.size(); s++) {
                List<ScoreRecord> sampleRecords = new ArrayList<>();
                for (Job job : jobs.get(s)) {
                    double ms = attributed > 0 ? millis.get(job) * scale : wall / all.size();
                    sampleRecords.add(record(work.get(s).sample(), job.plan(), job.result(), ms, options));
                }
                records.add(sampleRecords);
            }
        }
        return records;
    }

    /** Attaches a profile to every later call's forwards (null: none). */
    public void profile(ForwardProfile profile) {
        batcher.profile(profile);
    }

    /** Recipes and layouts of every condition of every sample, all tokenized in one batch. */
    private List<List<Planned>> plan(List<SampleWork> work) {
        List<CacheRecipe> recipes = new ArrayList<>();
        List<SegmentTexts> texts = new ArrayList<>();
        for (SampleWork w : work) {
            for (ConditionSpec c : w.conditions()) {
                recipes.add(CacheRecipe.of(c, model.family()));
                texts.add(SegmentTexts.of(c, w.sample()));
            }
        }
        List<SequenceLayout> layouts = model.tokenizer().layouts(texts);
        List<List<Planned>> plans = new ArrayList<>();
        int i = 0;
        for (SampleWork w : work) {
            List<Planned> samplePlans = new ArrayList<>();
            for (ConditionSpec c : w.conditions()) {
                SequenceLayout layout = layouts.get(i);
                if (layout.length(Segment.ANSWER) == 0) {
                    throw new IllegalArgumentException("sample " + w.sample().getId() + ", condition '" + c.getName()
                            + "': the answer has no tokens");
                }
                samplePlans.add(new Planned(c, recipes.get(i), texts.get(i), layout));
                i++;
            }
            plans.add(samplePlans);
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

    /**
     * The shared prefills, all in one batched pass: every document text's bare BOS·DOC, and every distinct head
     * the jobs ask to share ({@link Job#sharedHead}). Their caches are views kept in the current scope.
     */
    private Map<String, DocumentPrefills> prefill(List<Job> jobs, ScoreOptions options) {
        int bos = model.tokenizer().bosLength();
        List<String> documents = new ArrayList<>();
        List<int[]> ids = new ArrayList<>();
        Map<String, List<int[]>> heads = new HashMap<>();
        List<String> distinctDocuments = jobs.stream().map(j -> j.plan().texts().document()).distinct().toList();
        List<int[]> bareIds = model.tokenizer().encodeAll(distinctDocuments);
        for (Job job : jobs) {
            String document = job.plan().texts().document();
            if (!heads.containsKey(document)) {
                heads.put(document, new ArrayList<>());
                documents.add(document);
                ids.add(bareIds.get(distinctDocuments.indexOf(document)));  // the bare prefill comes first
            }
            int[] head = job.sharedHead();
            if (head == null) continue;
            List<int[]> known = heads.get(document);
            boolean isBare = Arrays.equals(head, ids.get(documents.indexOf(document)));
            if (!isBare && known.stream().noneMatch(h -> Arrays.equals(h, head))) {
                known.add(head);
                documents.add(document);
                ids.add(head);
            }
        }
        List<ForwardRequest> requests = ids.stream().map(i -> new ForwardRequest(i, ForwardRequest.consecutive(0, i.length),
                KvCache.empty(), AttentionMask.causal(), 0, 0, false)).toList();
        SharedPrefill[] done = new SharedPrefill[requests.size()];
        batcher.run(requests, options.maxBatch(), options.maxTokens(), (i, result, millis) ->
                done[i] = new SharedPrefill(ids.get(i), result.cache(), millis));
        Map<String, DocumentPrefills> out = new HashMap<>();
        for (int i = 0; i < done.length; i++) {
            String document = documents.get(i);
            DocumentPrefills d = out.get(document);
            if (d == null) out.put(document, new DocumentPrefills(bos, done[i], new ArrayList<>(List.of(done[i]))));
            else d.all().add(done[i]);
        }
        return out;
    }

    /** One condition's way to its score: a sequence of forwards, each asked for by {@link #next()}. */
    private abstract static class Job {
        private final Planned plan;
        final HostReadback readback;
        private DocumentPrefills prefills;
        private SharedPrefill used;
        private double millis;
        private java.util.function.Supplier<ConditionScore> pending;
        private ConditionScore result;

        Job(Planned plan, HostReadback readback) {
            this.plan = plan;
            this.readback = readback;
        }

        /** Token ids this condition would like prefilled once and shared (its cache's head), or null. */
        int[] sharedHead() {
            return null;
        }

        /** Hands the job its document's prefills, before its first {@link #next()}. */
        void bind(DocumentPrefills documentPrefills) {
            this.prefills = documentPrefills;
        }

        /** Takes entries [0, length) of a shared prefill as this condition's past (its time is then shared too). */
        KvCache reuse(SharedPrefill p, int length) {
            if (used != null) throw new IllegalStateException("condition " + plan.spec().getName() + " reuses two prefills");
            used = p;
            return p.use(length);
        }

        /** The next forward this condition needs, or null when it is scored. */
        abstract ForwardRequest next();

        /** The result of the forward {@link #next()} returned last. */
        abstract void accept(ForwardResult r);

        Planned plan() {
            return plan;
        }

        DocumentPrefills prefills() {
            return prefills;
        }

        /** The shared prefill this condition reused, or null. */
        SharedPrefill used() {
            return used;
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

    /**
     * One causal forward over the layout, after the shared prefill with the longest common prefix of ids (the
     * bare BOS·DOC for NONE and SUFFIX, a truncated condition's BOS·PREFIX·DOC head for PREFIX_FULL).
     */
    private final class FullSequenceJob extends Job {
        private final ScoreOptions options;
        private final boolean probs;
        private int reuse;
        private boolean asked;

        FullSequenceJob(Planned p, ScoreOptions options, HostReadback readback) {
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
            SharedPrefill shared = options.shareDocumentPrefill() ? prefills().longestCommonPrefix(layout.ids()) : null;
            reuse = shared == null ? 0 : Math.min(commonPrefix(layout.ids(), shared.ids), answerStart - 1);
            if (reuse < 1) reuse = 0;
            KvCache past = reuse == 0 ? KvCache.empty() : reuse(shared, reuse);
            return new ForwardRequest(layout.ids(reuse, total), ForwardRequest.consecutive(reuse, total - reuse), past,
                    AttentionMask.causal(), answerStart - 1 - reuse, total - 1 - reuse, probs);
        }

        @Override
        void accept(ForwardResult r) {
            SequenceLayout layout = plan().layout();
            HostReadback.Slot answer = readback.answerLogprobs(r.logits(), layout.ids(Segment.ANSWER));
            PendingDelta delta = documentDelta(layout, prefills(), r.cache(), layout.start(Segment.DOCUMENT), readback);
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
     * (1) BOS·PREFIX·DOC (a shared prefill: conditions with the same surrogate share it, and a PREFIX_FULL
     * condition with that surrogate reuses it), (2) drop PREFIX (and BOS unless kept), (3) re-rotate the document
     * keys by the dropped length with the recipe's pairing, (4) QUERY·ANSWER at positions continuing after the kept
     * entries.
     */
    private final class TruncatedPrefixJob extends Job {
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

        TruncatedPrefixJob(Planned p, CacheRecipe.TruncatedPrefix recipe, ScoreOptions options, HostReadback readback) {
            super(p, readback);
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
        void bind(DocumentPrefills documentPrefills) {
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
         * Steps (2) and (3) for every layer at once: the kept entries, document keys re-rotated in float32 unless
         * the correction is NONE. One stacked tensor per K and V instead of per-layer work: a handful of kernels
         * per condition, not a handful per layer.
         */
        private KvCache truncate() {
            keptBos = recipe.keepBos() ? bos : 0;
            long shift = -(long) (head - doc - keptBos);
            boolean rotate = recipe.correction() != RopeCorrection.NONE && shift != 0;
            // contiguous kept entries at unchanged positions: views, nothing to compute
            if (!rotate && keptBos == 0) return full.view(bos + prefix, head);
            if (!rotate && prefix == 0) return full.view(0, head);
            long[] positions = new long[keptBos + doc];
            for (int i = 0; i < keptBos; i++) positions[i] = i;
            for (int i = 0; i < doc; i++) positions[keptBos + i] = bos + prefix + i + (rotate ? shift : 0);
            int layers = full.layers();
            KvCache result;
            try (TensorScope scope = TensorScope.open()) {
                Tensor keys = Ops.cat(0, layerList(full, true));  // [layers, kvHeads, head, d]
                Tensor documentKeys = Ops.narrow(keys, 2, bos + prefix, doc);
                if (rotate) {
                    Rope.Pairing pairing = recipe.correction() == RopeCorrection.HALF_SPLIT
                            ? Rope.Pairing.HALF_SPLIT : Rope.Pairing.INTERLEAVED;
                    documentKeys = model.rope().rotateBy(documentKeys, shift, pairing, DType.FLOAT32);
                }
                Tensor keptKeys = keptBos == 0 ? documentKeys : Ops.cat(2, Ops.narrow(keys, 2, 0, keptBos), documentKeys);
                Tensor keptValues;
                if (keptBos == 0) {
                    keptValues = null;
                } else {
                    Tensor values = Ops.cat(0, layerList(full, false));
                    keptValues = Ops.cat(2, Ops.narrow(values, 2, 0, keptBos), Ops.narrow(values, 2, bos + prefix, doc));
                }
                List<Tensor> k = new ArrayList<>(layers);
                List<Tensor> v = new ArrayList<>(layers);
                for (int l = 0; l < layers; l++) {
                    // views of the stacked tensors keep their storage alive once the scope frees the stacks' handles
                    k.add(scope.keep(Ops.narrow(keptKeys, 0, l, 1)));
                    v.add(scope.keep(keptValues == null ? Ops.narrow(full.values(l), 2, bos + prefix, doc)
                            : Ops.narrow(keptValues, 0, l, 1)));
                }
                result = new KvCache(k, v, positions);
            }
            return result;
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
            PendingDelta delta = documentDelta(layout, prefills(), truncated, keptBos, readback);
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
            // free this condition's caches for the next batches (views of a shared prefill free only handles)
            r.close();
            truncated.close();
            full.close();
            if (headLogits != null) headLogits.close();
        }
    }

    /** Every layer's keys (or values) of a cache, in layer order. */
    private static List<Tensor> layerList(KvCache cache, boolean keys) {
        List<Tensor> out = new ArrayList<>(cache.layers());
        for (int l = 0; l < cache.layers(); l++) out.add(keys ? cache.keys(l) : cache.values(l));
        return out;
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
    private static PendingDelta documentDelta(SequenceLayout layout, DocumentPrefills prefills, KvCache cache, int documentStart,
                                              HostReadback readback) {
        SharedPrefill bare = prefills.bare();
        int bos = prefills.bos();
        int[] docIds = layout.ids(Segment.DOCUMENT);
        int[] bareDoc = Arrays.copyOfRange(bare.ids, bos, bare.ids.length);
        if (!Arrays.equals(docIds, bareDoc) || cache.layers() == 0) return null;
        int d = docIds.length;
        if (d == 0) return new PendingDelta(null, null);
        Tensor k;
        Tensor v;
        try (TensorScope scope = TensorScope.open()) {
            k = scope.keep(maxAbsDiffOnDevice(Ops.narrow(cache.keys(0), 2, documentStart, d), Ops.narrow(bare.cache.keys(0), 2, bos, d)));
            v = scope.keep(maxAbsDiffOnDevice(Ops.narrow(cache.values(0), 2, documentStart, d), Ops.narrow(bare.cache.values(0), 2, bos, d)));
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
