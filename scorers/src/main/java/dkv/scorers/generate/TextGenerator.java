package dkv.scorers.generate;

import dkv.scorers.model.AttentionMask;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.model.KvCache;
import dkv.scorers.model.KvCacheBuffer;
import dkv.scorers.model.PrefixLm;
import dkv.scorers.model.SegmentTokenizer;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Text generation over a borrowed {@link CausalLm} (docs/architecture.md "Generation"): requests are tokenized, sorted
 * by prompt length and cut into batches of at most {@code batchSize}; a batch runs one prefill forward of every
 * prompt, then one forward per new token for the rows still going, all through the family's own
 * {@code forwardBatch}. The cache is a {@link KvCacheBuffer} of the batch's rows, right-aligned at a common end (the
 * prompts left-padded): each step's keys and values are written into its next column in place, never copying the
 * past; rows that finish are dropped from it (one gather) so later steps compute only the live ones. Tokens are
 * chosen on the host from float32 logits ({@link Sampling}) with one generator per request seeded by the request,
 * so results do not depend on the batch, the order of requests or the device beyond the logits' rounding.
 *
 * <p>Generation ends at an end-of-sequence id ({@link GenerationConfig}; it is kept as the last new token), a stop
 * string, the request's max new tokens, or the model's context. A prompt with no tokens, or one that leaves no room
 * in the context, is refused alone with its reason; an empty text is reported as the item's problem.
 */
public final class TextGenerator {

    private final CausalLm lm;
    private final SegmentTokenizer tokenizer;
    private final GenerationConfig config;
    private final int batchSize;

    /** Generation with the snapshot's own end-of-sequence ids and context. */
    public TextGenerator(CausalLm lm, int batchSize) {
        this(lm, GenerationConfig.of(lm.snapshot()), batchSize);
    }

    public TextGenerator(CausalLm lm, GenerationConfig config, int batchSize) {
        if (lm instanceof PrefixLm) {
            throw new IllegalArgumentException(lm.snapshot().dir() + ": generation with a prefix LM (" + lm.family()
                    + ", 2D positions) is not supported");
        }
        if (!(lm.tokenizer() instanceof SegmentTokenizer t)) {
            throw new IllegalArgumentException(lm.snapshot().dir() + ": generation needs a tokenizer.json tokenizer");
        }
        if (batchSize < 1) throw new IllegalArgumentException("generation batch size must be ≥ 1, got " + batchSize);
        this.lm = lm;
        this.tokenizer = t;
        this.config = config;
        this.batchSize = batchSize;
    }

    public GenerationConfig config() {
        return config;
    }

    /** One generation per request, in request order. */
    public List<Generation> generate(List<GenerationRequest> requests) {
        Generation[] out = new Generation[requests.size()];
        List<int[]> ids = tokenize(requests);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < requests.size(); i++) {
            GenerationRequest r = requests.get(i);
            int n = ids.get(i).length;
            if (n == 0) {
                out[i] = Generation.refused(0, "empty prompt: no tokens to continue");
            } else if (config.context() > 0 && n >= config.context()) {
                out[i] = Generation.refused(n, "prompt of " + n + " tokens leaves no room in the model's context of "
                        + config.context() + " (max_position_embeddings)");
            } else {
                int budget = config.context() > 0 ? Math.min(r.maxNewTokens(), config.context() - n) : r.maxNewTokens();
                rows.add(new Row(i, ids.get(i), r, budget));
            }
        }
        rows.sort(Comparator.comparingInt(row -> row.prompt.length));
        for (int from = 0; from < rows.size(); from += batchSize) {
            List<Row> batch = rows.subList(from, Math.min(rows.size(), from + batchSize));
            run(batch);
            for (Row row : batch) out[row.index] = row.result();
        }
        return Arrays.asList(out);
    }

    private List<int[]> tokenize(List<GenerationRequest> requests) {
        List<String> raw = new ArrayList<>();
        List<String> bare = new ArrayList<>();
        for (GenerationRequest r : requests) (r.specialTokens() ? raw : bare).add(r.prompt());
        List<int[]> rawIds = tokenizer.encodeAll(raw, true);
        List<int[]> bareIds = tokenizer.encodeAll(bare, false);
        List<int[]> out = new ArrayList<>(requests.size());
        int a = 0;
        int b = 0;
        for (GenerationRequest r : requests) out.add(r.specialTokens() ? rawIds.get(a++) : bareIds.get(b++));
        return out;
    }

    /** One batch: a prefill of every prompt, then one forward per new token of the live rows. */
    private void run(List<Row> batch) {
        int longest = batch.stream().mapToInt(r -> r.prompt.length).max().orElseThrow();
        int budget = batch.stream().mapToInt(r -> r.budget).max().orElseThrow();
        try (TensorScope _ = TensorScope.open()) {
            List<ForwardRequest> prefill = new ArrayList<>(batch.size());
            for (Row row : batch) {
                int n = row.prompt.length;
                prefill.add(new ForwardRequest(row.prompt, ForwardRequest.consecutive(0, n), KvCache.empty(),
                        AttentionMask.causal(), n - 1, n, false));
            }
            // the buffer's storage belongs to this batch's scope: allocated here, next to the prefill's outputs
            List<ForwardResult> results = lm.forwardBatch(prefill);
            KvCacheBuffer buffer = KvCacheBuffer.allocateLike(results.getFirst().cache(), batch.size(), longest + budget);
            buffer.appendRows(results.stream().map(ForwardResult::cache).toList());
            List<Row> live = new ArrayList<>(batch);
            int[] next = choose(live, results);
            results.forEach(ForwardResult::close);
            try (buffer) {
                while (true) {
                    List<Row> going = new ArrayList<>(live.size());
                    List<Integer> kept = new ArrayList<>(live.size());
                    for (int k = 0; k < live.size(); k++) {
                        Row row = live.get(k);
                        row.accept(next[k]);
                        if (row.stop == null) {
                            going.add(row);
                            kept.add(k);
                        }
                    }
                    if (going.isEmpty()) return;
                    if (going.size() < live.size()) buffer.keepRows(kept.stream().mapToInt(Integer::intValue).toArray());
                    live = going;
                    next = step(live, buffer);
                }
            }
        }
    }

    /** One new token per live row (the one just chosen), appended to the buffer in place; their next tokens. */
    private int[] step(List<Row> live, KvCacheBuffer buffer) {
        try (TensorScope _ = TensorScope.open()) {
            List<ForwardRequest> requests = new ArrayList<>(live.size());
            for (int k = 0; k < live.size(); k++) {
                Row row = live.get(k);
                requests.add(new ForwardRequest(new int[] {row.last()}, new long[] {row.lastPosition()}, buffer.row(k),
                        AttentionMask.causal(), 0, 1, false));
            }
            List<ForwardResult> results = lm.forwardBatch(requests);
            List<KvCache> fresh = new ArrayList<>(results.size());
            for (ForwardResult r : results) fresh.add(r.cache().view(r.cache().length() - 1, r.cache().length()));
            buffer.appendRows(fresh);
            return choose(live, results);
        }
    }

    /**
     * Every live row's next token from its one logits row. When every row decodes greedily the argmax runs on the
     * device (the first highest logit, as on the host) and one id per row is read back; otherwise the float32 logits
     * come to the host in one readback and each row samples with its own generator.
     */
    private static int[] choose(List<Row> live, List<ForwardResult> results) {
        int[] next = new int[live.size()];
        try (TensorScope _ = TensorScope.open()) {
            List<Tensor> rows = results.stream().map(ForwardResult::logits).toList();
            Tensor all = rows.size() == 1 ? rows.getFirst() : Ops.cat(0, rows);
            if (live.stream().allMatch(r -> r.request.sampling().greedy())) {
                long[] ids = Tensors.toLongArray(Ops.argmax(Ops.reshape(all, live.size(), -1), -1, false));
                for (int k = 0; k < next.length; k++) next[k] = Math.toIntExact(ids[k]);
            } else {
                float[] logits = Tensors.toFloatArray(all);
                int vocab = logits.length / live.size();
                for (int k = 0; k < next.length; k++) {
                    Row row = live.get(k);
                    next[k] = row.request.sampling().next(logits, k * vocab, vocab, row.random);
                }
            }
        }
        return next;
    }

    /** One request's state while its batch runs. */
    private final class Row {
        final int index;
        final int[] prompt;
        final GenerationRequest request;
        final int budget;
        final SplittableRandom random;
        final List<Integer> generated = new ArrayList<>();
        Generation.Stop stop;
        String text;

        Row(int index, int[] prompt, GenerationRequest request, int budget) {
            this.index = index;
            this.prompt = prompt;
            this.request = request;
            this.budget = budget;
            this.random = new SplittableRandom(request.seed());
        }

        int last() {
            return generated.getLast();
        }

        long lastPosition() {
            return prompt.length + generated.size() - 1L;
        }

        void accept(int token) {
            generated.add(token);
            if (config.eos().contains(token)) {
                stop = Generation.Stop.EOS;
                return;
            }
            if (!request.stops().isEmpty()) {
                String decoded = tokenizer.decode(ids());
                int cut = -1;
                for (String s : request.stops()) {
                    int at = decoded.indexOf(s);
                    if (at >= 0 && (cut < 0 || at < cut)) cut = at;
                }
                if (cut >= 0) {
                    stop = Generation.Stop.STOP_STRING;
                    text = decoded.substring(0, cut);
                    return;
                }
            }
            if (generated.size() >= budget) {
                stop = budget < request.maxNewTokens() ? Generation.Stop.CONTEXT : Generation.Stop.MAX_NEW_TOKENS;
            }
        }

        int[] ids() {
            return generated.stream().mapToInt(Integer::intValue).toArray();
        }

        Generation result() {
            String t = text != null ? text : tokenizer.decode(ids());
            String problem = t.isBlank() ? "empty generation: " + generated.size() + " new tokens, ended by " + stop
                    + ", decode to no text" : null;
            return new Generation(prompt.length, ids(), t, stop, problem);
        }
    }
}
