package dkv.scorers.score;

import dkv.avro.ConditionSpec;
import dkv.avro.ModelRef;
import dkv.avro.Sample;
import dkv.avro.ScoreRecord;
import dkv.scorers.model.AttentionMask;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.KvCache;
import dkv.scorers.model.LoadedModel;
import dkv.scorers.model.PrefixLm;
import dkv.scorers.model.Seq2SeqLm;
import dkv.scorers.recipe.CacheRecipe;
import dkv.scorers.recipe.ModelShape;
import dkv.scorers.recipe.Segment;
import dkv.scorers.recipe.SegmentTexts;
import dkv.scorers.recipe.SequenceLayout;
import dkv.scorers.torch.OpProfile;
import dkv.scorers.torch.TensorScope;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * Scores samples under lists of conditions (docs/architecture.md "Scoring a call"): plans every condition (recipe
 * and token layout, all tokenized in one batch), runs the shared prefills, lets each condition's {@link ScoringJob}
 * ask for its forwards round by round as padded batches ({@link ForwardBatcher}), reads every device value back in
 * one wait ({@link HostReadback}) and maps each condition's score to a record once ({@link ScoreRecordMapper}).
 *
 * <p>Work shared across conditions: every distinct cache head is prefilled once per call — the bare BOS·DOC of each
 * document text, and each head a job asks to share (a truncated condition's BOS·PREFIX·DOC). A condition reuses the
 * prefill the model's {@link dkv.scorers.model.PrefixSharing} rule allows. Shared heads stay on the device until the
 * call ends (a call of many samples holds all of their heads at once: the price of batching their continuations
 * together). The bare cache is also the reference of {@code document_kv_max_abs_delta}.
 *
 * <p>An encoder-decoder ({@link Seq2SeqLm}) plans two streams per condition (encoder BOS·PREFIX·DOC, decoder
 * BOS·QUERY·ANSWER), runs one encoder pass per distinct encoder input of the call ({@link EncoderPasses}) instead of the
 * prefills, and batches every decoder forward across conditions and samples like any other forward.
 *
 * <p>Two stages ({@code docs/architecture.md} "Service pipelines"): {@link #prepare} is host work and thread-safe;
 * {@link #score} runs the device and is not thread-safe: tensors belong to the calling thread's {@link TensorScope}s,
 * so one thread owns a model's device and scores every call.
 */
public final class SampleScorer {

    private final LoadedModel model;
    /** Exactly one of the two is set: the model as the kind it is. */
    private final CausalLm causal;
    private final Seq2SeqLm seq2seq;
    private final String snapshotRevision;
    private final ForwardBatcher batcher;
    private final ScoreRecordMapper mapper;

    public SampleScorer(LoadedModel model) {
        this.model = model;
        this.causal = model instanceof CausalLm lm ? lm : null;
        this.seq2seq = model instanceof Seq2SeqLm s ? s : null;
        this.snapshotRevision = model.snapshot().revision();
        this.batcher = switch (model) {
            case CausalLm lm -> new ForwardBatcher(lm);
            case Seq2SeqLm s -> new ForwardBatcher(s);
            case dkv.scorers.model.TextEncoder _ -> throw new IllegalArgumentException(model.snapshot().dir() + ": a " + model.family()
                    + " model has no scoring recipes in this scorer yet");
        };
        this.mapper = new ScoreRecordMapper(model.device().toString(), model.dtype().toString());
        OpProfile.restart();  // a profile, when one is taken, covers scoring, not loading the weights
    }

    public LoadedModel model() {
        return model;
    }

    /**
     * One sample with the conditions to score on it, and what its records carry (null: the options' experiment
     * fields and this model's id and revision, as offline scoring has them).
     */
    public record SampleWork(Sample sample, List<ConditionSpec> conditions, RecordContext context) {
        public SampleWork(Sample sample, List<ConditionSpec> conditions) {
            this(sample, conditions, null);
        }
    }

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
     * in any sample fails the call before any compute. The same as {@link #score}({@link #prepare}).
     */
    public List<List<ScoreRecord>> scoreAll(List<SampleWork> work, ScoreOptions options) {
        return score(prepare(work, options));
    }

    /**
     * A call's host work, done before any tensor exists: every condition's recipe and layout (all tokenized in one
     * batch), its scoring job, and the shared prefills' token ids. Thread-safe (it reads the model's configuration
     * and tokenizer only), so CPU worker threads prepare call k+1 while the thread that owns the device runs call k.
     * An unsupported condition or an untokenizable answer fails here, before any compute.
     */
    public PreparedCall prepare(List<SampleWork> work, ScoreOptions options) {
        long started = System.nanoTime();
        List<List<ConditionPlan>> plans = plan(work);
        HostReadback readback = new HostReadback();
        List<List<ScoringJob>> jobs = new ArrayList<>();
        for (List<ConditionPlan> samplePlans : plans) {
            List<ScoringJob> sampleJobs = new ArrayList<>();
            for (ConditionPlan p : samplePlans) sampleJobs.add(job(p, options, readback));
            jobs.add(sampleJobs);
        }
        List<ScoringJob> all = jobs.stream().flatMap(List::stream).toList();
        PrefillPlan prefills = seq2seq != null ? null : prefillPlan(all);
        return new PreparedCall(this, work, options, jobs, all, readback, prefills, (System.nanoTime() - started) / 1e6);
    }

    /**
     * A call prepared by {@link #prepare}: the host's results, held until the device runs them with {@link #score}.
     * Scored once; it holds no tensors, so dropping it (e.g. when its Kafka partitions were revoked) frees nothing
     * but heap.
     */
    public static final class PreparedCall {
        private final SampleScorer scorer;
        private final List<SampleWork> work;
        private final ScoreOptions options;
        private final List<List<ScoringJob>> jobs;
        private final List<ScoringJob> all;
        private final HostReadback readback;
        private final PrefillPlan prefills;
        private final double prepareMillis;
        private boolean scored;

        private PreparedCall(SampleScorer scorer, List<SampleWork> work, ScoreOptions options, List<List<ScoringJob>> jobs,
                             List<ScoringJob> all, HostReadback readback, PrefillPlan prefills, double prepareMillis) {
            this.scorer = scorer;
            this.work = work;
            this.options = options;
            this.jobs = jobs;
            this.all = all;
            this.readback = readback;
            this.prefills = prefills;
            this.prepareMillis = prepareMillis;
        }

        /** Samples in the call. */
        public int samples() {
            return work.size();
        }

        /** Conditions (one scoring job each) in the call. */
        public int conditions() {
            return all.size();
        }

        /** Host time the preparation took. */
        public double prepareMillis() {
            return prepareMillis;
        }
    }

    /**
     * Runs a prepared call on the device: shared prefills (or encoder passes), rounds of batched forwards, one
     * readback, records. Call it from the thread that owns the device. Each record's {@code score_ms} is its share of
     * this stage's wall time: the host preparation ran earlier, overlapped with the previous call.
     */
    public List<List<ScoreRecord>> score(PreparedCall call) {
        if (call.scorer != this) throw new IllegalArgumentException("a call prepared by another scorer");
        if (call.scored) throw new IllegalStateException("a prepared call is scored once");
        call.scored = true;
        long started = System.nanoTime();
        List<ScoringJob> all = call.all;
        ScoreOptions options = call.options;
        List<List<ScoreRecord>> records = new ArrayList<>();
        try (TensorScope _ = TensorScope.open()) {
            ToDoubleFunction<ScoringJob> sharedMillis;
            if (seq2seq != null) {
                List<EncoderDecoderJob> decoders = all.stream().map(EncoderDecoderJob.class::cast).toList();
                EncoderPasses.run(seq2seq, decoders, options);
                sharedMillis = job -> ((EncoderDecoderJob) job).encoderMillis();
            } else {
                Map<String, SharedPrefills> prefills = prefill(call.prefills, options);
                for (ScoringJob job : all) job.bind(prefills.get(job.plan().texts().document()));
                sharedMillis = prefillMillis(all, prefills);
            }
            run(all, options);
            call.readback.fetch();  // the call's one wait for the device
            Map<ScoringJob, Double> millis = attributeTime(all, sharedMillis, started);
            for (int s = 0; s < call.work.size(); s++) {
                SampleWork w = call.work.get(s);
                RecordContext context = w.context() != null ? w.context() : offlineContext(options);
                List<ScoreRecord> sampleRecords = new ArrayList<>();
                for (ScoringJob job : call.jobs.get(s)) {
                    sampleRecords.add(mapper.record(context, w.sample(), job.plan(), job.result(), millis.get(job), options));
                }
                records.add(sampleRecords);
            }
        }
        return records;
    }

    /** The job that runs a planned condition's recipe: one class per recipe. */
    private ScoringJob job(ConditionPlan p, ScoreOptions options, HostReadback readback) {
        return switch (p.recipe()) {
            case CacheRecipe.FullSequence _ -> new FullSequenceJob(p, options, readback);
            case CacheRecipe.TruncatedPrefix t -> new TruncatedPrefixJob(causal, p, t, options, readback);
            case CacheRecipe.PromptContinuation _ -> new PromptContinuationJob(prefixLm(), p, null, options, readback);
            case CacheRecipe.TruncatedPrompt t -> new PromptContinuationJob(prefixLm(), p, t.correction(), options, readback);
            case CacheRecipe.CoEncoded e -> new EncoderDecoderJob(p, e, options, readback);
        };
    }

    /** The model as a prefix LM, which the PREFIX_LM shape's recipes need. */
    private PrefixLm prefixLm() {
        if (model instanceof PrefixLm lm) return lm;
        throw new IllegalStateException(model.snapshot().dir() + ": shape " + model.shape() + " but not a prefix LM");
    }

    /** The forward that prefills a shared head: causal from position 0, or a prefix LM's whole prompt (with its {@code <sop>} logits). */
    private ForwardRequest headRequest(int[] ids) {
        if (model.shape() == ModelShape.PREFIX_LM) return PromptLayout.prefill(ids);
        return new ForwardRequest(ids, ForwardRequest.consecutive(0, ids.length), KvCache.empty(), AttentionMask.causal(), 0, 0, false);
    }

    private RecordContext offlineContext(ScoreOptions options) {
        ModelRef ref = ModelRef.newBuilder().setId(model.snapshot().name())
                .setRevision(options.modelRevision() != null ? options.modelRevision() : snapshotRevision).build();
        return new RecordContext(options.experimentId(), options.planHash(), options.meta(), ref);
    }

    /**
     * Each job's share of the shared prefills: of the prefill it reused, and of its document's bare prefill when no
     * condition reused that one (it was still paid for, as every condition's reference).
     */
    private static ToDoubleFunction<ScoringJob> prefillMillis(List<ScoringJob> all, Map<String, SharedPrefills> prefills) {
        Map<String, Integer> conditionsPerDocument = new HashMap<>();
        for (ScoringJob job : all) conditionsPerDocument.merge(job.plan().texts().document(), 1, Integer::sum);
        return job -> {
            String document = job.plan().texts().document();
            SharedPrefills.Prefill bare = prefills.get(document).bare();
            return (job.used() == null ? 0 : job.used().millisPerUser())
                    + (bare.users == 0 ? bare.millis / conditionsPerDocument.get(document) : 0);
        };
    }

    /**
     * Each condition's share of the call's wall time: its own forwards, its share of the shared work it used
     * ({@code sharedMillis}), and the rest of the score stage (binding, the readback's wait) in proportion, so a
     * call's score_ms add up to its score stage's wall time (the host preparation overlaps the previous call).
     */
    private static Map<ScoringJob, Double> attributeTime(List<ScoringJob> all, ToDoubleFunction<ScoringJob> sharedMillis, long started) {
        Map<ScoringJob, Double> millis = new HashMap<>();
        double attributed = 0;
        for (ScoringJob job : all) {
            double ms = job.millis() + sharedMillis.applyAsDouble(job);
            millis.put(job, ms);
            attributed += ms;
        }
        double wall = (System.nanoTime() - started) / 1e6;
        double scale = attributed > 0 ? Math.max(wall, attributed) / attributed : 0;
        for (ScoringJob job : all) millis.put(job, attributed > 0 ? millis.get(job) * scale : wall / all.size());
        return millis;
    }

    /** Attaches a profile to every later call's forwards (null: none). */
    public void profile(ForwardProfile profile) {
        batcher.profile(profile);
    }

    /**
     * Recipes and layouts of every condition of every sample, all tokenized in one batch. An encoder-decoder's
     * condition has two streams, tokenized in the same batch: the decoder's BOS·QUERY·ANSWER (the scored layout) and
     * the encoder's BOS·PREFIX·DOC.
     */
    private List<List<ConditionPlan>> plan(List<SampleWork> work) {
        List<CacheRecipe> recipes = new ArrayList<>();
        List<SegmentTexts> texts = new ArrayList<>();
        List<SegmentTexts> streams = new ArrayList<>();
        for (SampleWork w : work) {
            for (ConditionSpec c : w.conditions()) {
                recipes.add(CacheRecipe.of(c, model.shape(), model.family()));
                SegmentTexts t = SegmentTexts.of(c, w.sample());
                texts.add(t);
                if (seq2seq == null) {
                    streams.add(t);
                } else {
                    streams.add(t.only(Segment.QUERY, Segment.ANSWER));
                    streams.add(t.only(Segment.PREFIX, Segment.DOCUMENT));
                }
            }
        }
        List<SequenceLayout> tokenized = model.tokenizer().layouts(streams);
        int perCondition = seq2seq == null ? 1 : 2;
        List<List<ConditionPlan>> plans = new ArrayList<>();
        int i = 0;
        for (SampleWork w : work) {
            List<ConditionPlan> samplePlans = new ArrayList<>();
            for (ConditionSpec c : w.conditions()) {
                SequenceLayout layout = tokenized.get(perCondition * i);
                if (layout.length(Segment.ANSWER) == 0) {
                    throw new IllegalArgumentException("sample " + w.sample().getId() + ", condition '" + c.getName()
                            + "': the answer has no tokens");
                }
                SequenceLayout encoder = seq2seq == null ? null : tokenized.get(perCondition * i + 1);
                if (encoder != null && (layout.length(Segment.BOS) == 0 || layout.ids()[0] != seq2seq.decoderStartToken())) {
                    throw new IllegalArgumentException(model.snapshot().dir() + ": the tokenizer's BOS is not the decoder start token "
                            + seq2seq.decoderStartToken() + " (decoder stream " + layout + ")");
                }
                samplePlans.add(new ConditionPlan(c, recipes.get(i), texts.get(i), layout, encoder));
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
    private void run(List<ScoringJob> jobs, ScoreOptions options) {
        while (true) {
            List<ScoringJob> pending = new ArrayList<>();
            List<ForwardRequest> requests = new ArrayList<>();
            for (ScoringJob job : jobs) {
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
                ScoringJob job = pending.get(i);
                long t1 = System.nanoTime();
                job.accept(result);
                job.addMillis(share + (System.nanoTime() - t1) / 1e6);
            });
        }
    }

    /** The shared prefills' token ids, in pass order, and the document each belongs to (host work). */
    private record PrefillPlan(List<String> documents, List<int[]> ids) {}

    /**
     * What the shared prefills will run: every document text's bare BOS·DOC, and every distinct head the jobs ask
     * to share ({@link ScoringJob#sharedHead}).
     */
    private PrefillPlan prefillPlan(List<ScoringJob> jobs) {
        List<String> documents = new ArrayList<>();
        List<int[]> ids = new ArrayList<>();
        Map<String, List<int[]>> heads = new HashMap<>();
        List<String> distinctDocuments = jobs.stream().map(j -> j.plan().texts().document()).distinct().toList();
        List<int[]> bareIds = model.tokenizer().encodeAll(distinctDocuments);
        for (ScoringJob job : jobs) {
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
        return new PrefillPlan(documents, ids);
    }

    /** The shared prefills of a plan, all in one batched pass. Their caches are views kept in the current scope. */
    private Map<String, SharedPrefills> prefill(PrefillPlan plan, ScoreOptions options) {
        int bos = model.tokenizer().bosLength();
        List<String> documents = plan.documents();
        List<int[]> ids = plan.ids();
        List<ForwardRequest> requests = ids.stream().map(this::headRequest).toList();
        SharedPrefills.Prefill[] done = new SharedPrefills.Prefill[requests.size()];
        batcher.run(requests, options.maxBatch(), options.maxTokens(), (i, result, millis) ->
                done[i] = new SharedPrefills.Prefill(ids.get(i), result.cache(), result.logits(), millis));
        int closing = model.tokenizer().closingLength();
        Map<String, SharedPrefills> out = new HashMap<>();
        for (int i = 0; i < done.length; i++) {
            String document = documents.get(i);
            SharedPrefills d = out.get(document);
            if (d == null) out.put(document, new SharedPrefills(bos, closing, causal.prefixSharing(), done[i]));
            else d.add(done[i]);
        }
        return out;
    }
}
