package dkv.scorers.model;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The Llama family (Llama, Mistral, Qwen2) in one file, in HF {@code modeling_llama.py}'s order:
 * RMSNorm → rotary embedding ({@code rotate_half}, i.e. {@link Rope.Pairing#HALF_SPLIT}) → MLP (SwiGLU) →
 * attention (GQA, optional qkv bias) → decoder layer → model → LM head.
 * The variants differ only in which projections carry a bias.
 */
public final class LlamaFamily implements ModelFamily {

    public static final LlamaFamily INSTANCE = new LlamaFamily();

    /** Which HF class a snapshot is, and so which projections have biases. */
    enum Variant {
        LLAMA("llama", "LlamaForCausalLM"),
        MISTRAL("mistral", "MistralForCausalLM"),
        QWEN2("qwen2", "Qwen2ForCausalLM");

        final String modelType;
        final String architecture;

        Variant(String modelType, String architecture) {
            this.modelType = modelType;
            this.architecture = architecture;
        }

        boolean qkvBias(ModelConfig c) {
            return this == QWEN2 || (this == LLAMA && c.attentionBias());
        }

        boolean outputBias(ModelConfig c) {
            return this == LLAMA && c.attentionBias();
        }

        boolean mlpBias(ModelConfig c) {
            return this == LLAMA && c.mlpBias();
        }

        static Variant of(ModelConfig c) {
            for (Variant v : values()) if (v.modelType.equals(c.modelType())) return v;
            for (Variant v : values()) if (c.architectures().contains(v.architecture)) return v;
            throw new IllegalArgumentException("not a Llama-family config: " + c.modelType() + " " + c.architectures());
        }
    }

    private LlamaFamily() {
    }

    @Override
    public String name() {
        return "llama";
    }

    @Override
    public Set<String> modelTypes() {
        return Set.of("llama", "mistral", "qwen2");
    }

    @Override
    public Set<String> architectures() {
        return Set.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM");
    }

    @Override
    public CausalLm load(ModelSnapshot snapshot, Device device, DType dtype) {
        ModelConfig c = snapshot.config();
        if (!c.hiddenAct().equals("silu")) {
            throw new IllegalArgumentException(snapshot.dir() + ": hidden_act '" + c.hiddenAct()
                    + "' is not supported by the Llama family (silu only)");
        }
        if (!dtype.isFloatingPoint()) throw new IllegalArgumentException("model dtype must be floating point, got " + dtype);
        return Model.load(snapshot, Variant.of(c), device, dtype);
    }

    // ------------------------------------------------------------------------------------------ RMSNorm

    /** {@code weight * (x / sqrt(mean(x²) + eps))}, the statistics in float32 as HF's LlamaRMSNorm. */
    static Tensor rmsNorm(Tensor x, Tensor weight, double eps) {
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor xf = Ops.to(x, DType.FLOAT32);
            Tensor variance = Ops.meanLastDim(Ops.square(xf), true);
            Tensor normed = Ops.mul(xf, Ops.rsqrt(Ops.add(variance, eps)));
            result = scope.keep(Ops.mul(weight, Ops.to(normed, x.dtype())));
        }
        return result;
    }

    // ------------------------------------------------------------------------------------------ MLP

    /**
     * SwiGLU: {@code down(silu(gate(x)) * up(x))}, with gate and up fused into one GEMM: {@code gateUp} is
     * [2·intermediate, hidden] (gate rows first), split by views. Biases are null when the config has none.
     */
    record Mlp(Tensor gateUp, Tensor down, Tensor gateUpBias, Tensor downBias) {
        Tensor forward(Tensor x) {
            long inter = down.size(1);
            Tensor result;
            try (TensorScope scope = TensorScope.open()) {
                Tensor both = linear(x, gateUp, gateUpBias);
                Tensor h = Ops.mul(Ops.silu(Ops.narrow(both, -1, 0, inter)), Ops.narrow(both, -1, inter, inter));
                result = scope.keep(linear(h, down, downBias));
            }
            return result;
        }
    }

    static Tensor linear(Tensor x, Tensor w, Tensor bias) {
        return bias == null ? Ops.linear(x, w) : Ops.linear(x, w, bias);
    }

    // ------------------------------------------------------------------------------------------ attention

    /** Output of one attention block: o_proj output, this layer's cache entries (past + new), head-mean probabilities [B, n, past + n]. */
    record AttentionOutput(Tensor output, Tensor keys, Tensor values, Tensor headMeanProbabilities) {}

    /**
     * Multi-head attention with grouped KV heads; q/k/v biases for Qwen2 (and Llama with attention_bias).
     * The q, k and v projections are one GEMM: {@code qkv} is [(heads + 2·kvHeads)·headDim, hidden] (q rows,
     * then k, then v), split by views.
     */
    record Attention(Tensor qkv, Tensor o, Tensor qkvBias, Tensor oBias, int heads, int kvHeads, int headDim) {

        /**
         * @param x        [B, n, hidden]
         * @param cos,sin  RoPE tables of the new tokens' positions in x's dtype, [B, 1, n, headDim]
         * @param mask     null with {@code causal} (no past), else bool, broadcastable to [B, 1, n, past + n]
         */
        AttentionOutput forward(Tensor x, Tensor cos, Tensor sin, Tensor pastKeys, Tensor pastValues,
                                Tensor mask, boolean causal, boolean wantProbs) {
            long batch = x.size(0);
            long n = x.size(1);
            AttentionOutput result;
            try (TensorScope scope = TensorScope.open()) {
                Tensor projected = linear(x, qkv, qkvBias);
                long qWidth = (long) heads * headDim;
                long kvWidth = (long) kvHeads * headDim;
                Tensor query = Ops.transpose(Ops.reshape(Ops.narrow(projected, -1, 0, qWidth), batch, n, heads, headDim), 1, 2);
                Tensor key = Ops.transpose(Ops.reshape(Ops.narrow(projected, -1, qWidth, kvWidth), batch, n, kvHeads, headDim), 1, 2);
                Tensor value = Ops.transpose(Ops.reshape(Ops.narrow(projected, -1, qWidth + kvWidth, kvWidth),
                        batch, n, kvHeads, headDim), 1, 2);
                query = Rope.apply(query, cos, sin, Rope.Pairing.HALF_SPLIT);
                key = Rope.apply(key, cos, sin, Rope.Pairing.HALF_SPLIT);
                Tensor keys = pastKeys == null ? Ops.contiguous(key) : Ops.cat(2, pastKeys, key);
                Tensor values = pastValues == null ? Ops.contiguous(value) : Ops.cat(2, pastValues, value);
                int groups = heads / kvHeads;
                Tensor kr = Ops.repeatKvHeads(keys, groups);
                Tensor vr = Ops.repeatKvHeads(values, groups);
                double scale = 1.0 / Math.sqrt(headDim);
                Tensor attended;
                Tensor probs = null;
                if (wantProbs) {
                    Ops.Attention a = Ops.attentionWithProbs(query, kr, vr, mask, scale);
                    attended = a.output();
                    // [B, H, n, L] → mean over heads → [B, n, L]
                    probs = scope.keep(Ops.meanLastDim(Ops.permute(a.probabilities(), 0, 2, 3, 1), false));
                } else {
                    attended = Ops.sdpa(query, kr, vr, mask, causal, scale);
                }
                Tensor merged = Ops.reshape(Ops.transpose(attended, 1, 2), batch, n, (long) heads * headDim);
                result = new AttentionOutput(scope.keep(linear(merged, o, oBias)), scope.keep(keys), scope.keep(values), probs);
            }
            return result;
        }
    }

    // ------------------------------------------------------------------------------------------ decoder layer

    record Layer(Tensor inputNorm, Attention attention, Tensor postAttentionNorm, Mlp mlp) {}

    // ------------------------------------------------------------------------------------------ model + LM head

    static final class Model implements CausalLm {
        private final ModelSnapshot snapshot;
        private final Variant variant;
        private final Device device;
        private final DType dtype;
        private final WeightLoader loader;
        private final SegmentTokenizer tokenizer;
        private final Rope rope;
        private final Tensor embed;
        private final List<Layer> layers;
        private final Tensor norm;
        private final Tensor lmHead;
        private final List<Tensor> owned;

        private Model(ModelSnapshot snapshot, Variant variant, Device device, DType dtype, WeightLoader loader,
                      SegmentTokenizer tokenizer, Tensor embed, List<Layer> layers, Tensor norm, Tensor lmHead,
                      List<Tensor> owned) {
            this.snapshot = snapshot;
            this.variant = variant;
            this.device = device;
            this.dtype = dtype;
            this.loader = loader;
            this.tokenizer = tokenizer;
            this.rope = new Rope(snapshot.config().inverseFrequencies(), Rope.Pairing.HALF_SPLIT);
            this.embed = embed;
            this.layers = layers;
            this.norm = norm;
            this.lmHead = lmHead;
            this.owned = owned;
        }

        static Model load(ModelSnapshot snapshot, Variant variant, Device device, DType dtype) {
            ModelConfig c = snapshot.config();
            WeightLoader loader = new WeightLoader(snapshot.weights(), device, dtype);
            List<Tensor> owned = new ArrayList<>();
            SegmentTokenizer tokenizer = null;
            try (TensorScope scope = TensorScope.open()) {
                long hid = c.hiddenSize();
                long inter = c.intermediateSize();
                long qOut = (long) c.numHeads() * c.headDim();
                long kvOut = (long) c.numKvHeads() * c.headDim();
                Tensor embed = loader.load("model.embed_tokens.weight", c.vocabSize(), hid);
                List<Layer> layers = new ArrayList<>();
                for (int l = 0; l < c.numLayers(); l++) {
                    String p = "model.layers." + l + ".";
                    boolean qkvBias = variant.qkvBias(c);
                    boolean mlpBias = variant.mlpBias(c);
                    Attention attention = new Attention(
                            fused(loader, p + "self_attn.", "weight", new String[] {"q_proj", "k_proj", "v_proj"},
                                    new long[] {qOut, kvOut, kvOut}, hid),
                            loader.load(p + "self_attn.o_proj.weight", hid, qOut),
                            qkvBias ? fused(loader, p + "self_attn.", "bias", new String[] {"q_proj", "k_proj", "v_proj"},
                                    new long[] {qOut, kvOut, kvOut}) : null,
                            variant.outputBias(c) ? loader.load(p + "self_attn.o_proj.bias", hid) : null,
                            c.numHeads(), c.numKvHeads(), c.headDim());
                    Mlp mlp = new Mlp(
                            fused(loader, p + "mlp.", "weight", new String[] {"gate_proj", "up_proj"}, new long[] {inter, inter}, hid),
                            loader.load(p + "mlp.down_proj.weight", hid, inter),
                            mlpBias ? fused(loader, p + "mlp.", "bias", new String[] {"gate_proj", "up_proj"}, new long[] {inter, inter}) : null,
                            mlpBias ? loader.load(p + "mlp.down_proj.bias", hid) : null);
                    layers.add(new Layer(loader.load(p + "input_layernorm.weight", hid), attention,
                            loader.load(p + "post_attention_layernorm.weight", hid), mlp));
                }
                Tensor norm = loader.load("model.norm.weight", hid);
                // HF ties lm_head to the embedding when the config says so, whatever the file holds
                Tensor lmHead = c.tieWordEmbeddings() ? embed : loader.load("lm_head.weight", c.vocabSize(), hid);
                tokenizer = snapshot.openTokenizer();
                // the model owns its weights for its whole life: move them out of the loading scope
                owned.addAll(keepAll(scope, embed, norm, lmHead, layers));
                return new Model(snapshot, variant, device, dtype, loader, tokenizer, embed, layers, norm, lmHead, owned);
            } catch (RuntimeException e) {
                owned.forEach(Tensor::close);
                if (tokenizer != null) tokenizer.close();
                loader.close();
                throw e;
            }
        }

        /**
         * Several projections' tensors ({@code prefix + name + "." + suffix}) concatenated along dim 0, so that
         * one GEMM computes them all. The parts are freed as soon as they are copied, so loading peaks at one
         * layer's worth of extra memory, not a model's.
         */
        private static Tensor fused(WeightLoader loader, String prefix, String suffix, String[] names, long[] rows, long... cols) {
            Tensor result;
            try (TensorScope scope = TensorScope.open()) {
                Tensor[] parts = new Tensor[names.length];
                for (int i = 0; i < names.length; i++) {
                    long[] shape = new long[1 + cols.length];
                    shape[0] = rows[i];
                    System.arraycopy(cols, 0, shape, 1, cols.length);
                    parts[i] = loader.load(prefix + names[i] + "." + suffix, shape);
                }
                result = scope.keep(Ops.cat(0, parts));
            }
            return result;
        }

        private static List<Tensor> keepAll(TensorScope scope, Tensor embed, Tensor norm, Tensor lmHead, List<Layer> layers) {
            List<Tensor> all = new ArrayList<>();
            all.add(embed);
            all.add(norm);
            if (lmHead != embed) all.add(lmHead);
            for (Layer l : layers) {
                Attention a = l.attention();
                for (Tensor t : new Tensor[] {l.inputNorm(), l.postAttentionNorm(), a.qkv(), a.o(), a.qkvBias(), a.oBias(),
                        l.mlp().gateUp(), l.mlp().down(), l.mlp().gateUpBias(), l.mlp().downBias()}) {
                    if (t != null) all.add(t);
                }
            }
            all.forEach(scope::keep);
            return all;
        }

        @Override
        public String family() {
            return INSTANCE.name();
        }

        @Override
        public ModelSnapshot snapshot() {
            return snapshot;
        }

        @Override
        public SegmentTokenizer tokenizer() {
            return tokenizer;
        }

        @Override
        public Device device() {
            return device;
        }

        @Override
        public DType dtype() {
            return dtype;
        }

        @Override
        public Rope rope() {
            return rope;
        }

        @Override
        public ForwardResult forward(ForwardRequest r) {
            return forwardBatch(List.of(r)).getFirst();
        }

        /**
         * The forward: rows padded to the longest (new tokens at the end, past entries at the start so that
         * each row's past + new entries stay contiguous), one pass through the layers, then per row views of
         * its cache entries, logits and attention probabilities (no copies).
         */
        @Override
        public List<ForwardResult> forwardBatch(List<ForwardRequest> rows) {
            ModelConfig c = snapshot.config();
            int batch = rows.size();
            if (batch == 0) return List.of();
            int width = 0;
            int pastWidth = 0;
            boolean probsWanted = false;
            for (ForwardRequest r : rows) {
                if (r.ids().length == 0) throw new IllegalArgumentException("forward of zero tokens");
                if (!r.past().isEmpty() && r.past().layers() != layers.size()) {
                    throw new IllegalArgumentException("past cache has " + r.past().layers() + " layers, model " + layers.size());
                }
                if (c.slidingWindow() > 0 && r.past().length() + r.ids().length > c.slidingWindow()) {
                    throw new IllegalArgumentException(snapshot.dir() + ": sequence of " + (r.past().length() + r.ids().length)
                            + " tokens exceeds the sliding window " + c.slidingWindow() + ", which is not implemented");
                }
                if (batch > 1 && !(r.mask() instanceof AttentionMask.Causal)) {
                    throw new IllegalArgumentException("custom attention masks are supported for a single sequence only");
                }
                width = Math.max(width, r.ids().length);
                pastWidth = Math.max(pastWidth, r.past().length());
                probsWanted |= r.attentionProbs();
            }
            List<ForwardResult> results = new ArrayList<>();
            try (TensorScope scope = TensorScope.open()) {
                long[] ids = new long[batch * width];
                long[] positions = new long[batch * width];
                for (int b = 0; b < batch; b++) {
                    ForwardRequest r = rows.get(b);
                    for (int i = 0; i < r.ids().length; i++) {
                        if (r.ids()[i] < 0 || r.ids()[i] >= c.vocabSize()) {
                            throw new IllegalArgumentException("token id " + r.ids()[i] + " outside vocab " + c.vocabSize());
                        }
                        ids[b * width + i] = r.ids()[i];
                        positions[b * width + i] = r.positions()[i];
                    }
                }
                Tensor h = Ops.reshape(Ops.embedding(embed, Ops.upload(Tensors.fromLongs(ids, batch * width), device)), batch, width, -1);
                Rope.Tables t = rope.tables(positions, Rope.Pairing.HALF_SPLIT, device);
                long d = c.headDim();
                Tensor cos = Ops.reshape(Ops.to(t.cos(), dtype), batch, 1, width, d);
                Tensor sin = Ops.reshape(Ops.to(t.sin(), dtype), batch, 1, width, d);
                // Without a past, rows are right-padded: a real token at i sees exactly keys 0..i of its own row, all
                // real, so torch's top-left causal mask is exact for every row and no mask tensor is needed (which
                // lets SDPA pick flash). Padding tokens' outputs are garbage that no result ever reads.
                boolean causalOnly = pastWidth == 0 && !probsWanted
                        && rows.stream().allMatch(r -> r.mask() instanceof AttentionMask.Causal);
                Tensor mask = causalOnly ? null : maskTensor(rows, width, pastWidth);
                Tensor pastIndex = pastWidth == 0 || batch == 1 ? null : pastGatherIndex(rows, pastWidth);
                List<Tensor> keys = new ArrayList<>();
                List<Tensor> values = new ArrayList<>();
                List<Tensor> probs = new ArrayList<>();
                for (int l = 0; l < layers.size(); l++) {
                    Layer layer = layers.get(l);
                    final int layerIndex = l;
                    Tensor previous = h;
                    // A layer's intermediates (norm outputs, the stacked padded past, attention and MLP outputs) die
                    // with its scope: only the residual stream and the layer's K/V (and probabilities) outlive it, so
                    // a large batch holds one layer's activations at a time, not all of them until the forward ends.
                    try (TensorScope layerScope = TensorScope.open()) {
                        Tensor pastKeys = pastWidth == 0 ? null : stackPast(rows, pastIndex, pastWidth, r -> r.keys(layerIndex));
                        Tensor pastValues = pastWidth == 0 ? null : stackPast(rows, pastIndex, pastWidth, r -> r.values(layerIndex));
                        AttentionOutput a = layer.attention().forward(rmsNorm(h, layer.inputNorm(), c.rmsNormEps()), cos, sin,
                                pastKeys, pastValues, mask, causalOnly, probsWanted);
                        Tensor next = Ops.add(h, a.output());
                        next = Ops.add(next, layer.mlp().forward(rmsNorm(next, layer.postAttentionNorm(), c.rmsNormEps())));
                        h = layerScope.keep(next);
                        keys.add(layerScope.keep(a.keys()));
                        values.add(layerScope.keep(a.values()));
                        if (a.headMeanProbabilities() != null) probs.add(layerScope.keep(a.headMeanProbabilities()));
                    }
                    if (l > 0) previous.close(); // layer 0's input is a view of the embedding, freed with the forward
                }
                Tensor logits = logits(rows, h);
                int logitRow = 0;
                for (int b = 0; b < batch; b++) {
                    ForwardRequest r = rows.get(b);
                    int past = r.past().length();
                    int n = r.ids().length;
                    int from = pastWidth - past;
                    List<Tensor> rowKeys = new ArrayList<>();
                    List<Tensor> rowValues = new ArrayList<>();
                    List<Tensor> rowProbs = new ArrayList<>();
                    for (int l = 0; l < layers.size(); l++) {
                        rowKeys.add(scope.keep(Ops.narrow(Ops.narrow(keys.get(l), 0, b, 1), 2, from, past + n)));
                        rowValues.add(scope.keep(Ops.narrow(Ops.narrow(values.get(l), 0, b, 1), 2, from, past + n)));
                        if (r.attentionProbs()) {
                            Tensor p = Ops.select(probs.get(l), 0, b);
                            rowProbs.add(scope.keep(Ops.narrow(Ops.narrow(p, 0, 0, n), 1, from, past + n)));
                        }
                    }
                    long[] cachePositions = new long[past + n];
                    System.arraycopy(r.past().positions(), 0, cachePositions, 0, past);
                    System.arraycopy(r.positions(), 0, cachePositions, past, n);
                    int count = r.logitsTo() - r.logitsFrom();
                    Tensor rowLogits = count == 0 ? null : scope.keep(Ops.narrow(logits, 0, logitRow, count));
                    logitRow += count;
                    results.add(new ForwardResult(new KvCache(rowKeys, rowValues, cachePositions), rowLogits, rowProbs));
                }
            }
            return results;
        }

        /**
         * Each row's past entries right-aligned in [B, kvHeads, pastWidth, headDim] in two kernels whatever B:
         * the rows' entries concatenated along the sequence, then gathered by {@code index} (from
         * {@link #pastGatherIndex}). The gap before a shorter row's past holds some other entry, masked out.
         */
        private Tensor stackPast(List<ForwardRequest> rows, Tensor index, int pastWidth,
                                 java.util.function.Function<KvCache, Tensor> part) {
            if (rows.size() == 1) return part.apply(rows.getFirst().past());
            List<Tensor> parts = new ArrayList<>();
            for (ForwardRequest r : rows) if (!r.past().isEmpty()) parts.add(part.apply(r.past()));
            Tensor all = parts.size() == 1 ? parts.getFirst() : Ops.cat(2, parts);
            Tensor gathered = Ops.indexSelect(all, 2, index);  // [1, kvHeads, B·pastWidth, headDim]
            return Ops.permute(Ops.reshape(gathered, all.size(1), rows.size(), pastWidth, all.size(3)), 1, 0, 2, 3);
        }

        /** For each row and slot of the padded past, the entry of the concatenated pasts it holds (int64, on the device). */
        private Tensor pastGatherIndex(List<ForwardRequest> rows, int pastWidth) {
            long[] index = new long[rows.size() * pastWidth];
            long offset = 0;
            for (int b = 0; b < rows.size(); b++) {
                int past = rows.get(b).past().length();
                int gap = pastWidth - past;
                for (int j = 0; j < past; j++) index[b * pastWidth + gap + j] = offset + j;
                offset += past;
            }
            return Ops.upload(Tensors.fromLongs(index, index.length), device);
        }

        /** Next-token logits (float32) of every row's requested positions, rows concatenated in request order. */
        private Tensor logits(List<ForwardRequest> rows, Tensor h) {
            List<Tensor> wanted = new ArrayList<>();
            for (int b = 0; b < rows.size(); b++) {
                ForwardRequest r = rows.get(b);
                if (r.logitsTo() > r.logitsFrom()) {
                    wanted.add(Ops.narrow(Ops.select(h, 0, b), 0, r.logitsFrom(), r.logitsTo() - r.logitsFrom()));
                }
            }
            if (wanted.isEmpty()) return null;
            Tensor hidden = wanted.size() == 1 ? wanted.getFirst() : Ops.cat(0, wanted);
            return Ops.to(Ops.linear(rmsNorm(hidden, norm, snapshot.config().rmsNormEps()), lmHead), DType.FLOAT32);
        }

        /** bool [B, 1, width, pastWidth + width]: a row's own past entries (right-aligned), then causal over new tokens. */
        private Tensor maskTensor(List<ForwardRequest> rows, int width, int pastWidth) {
            if (rows.size() == 1 && rows.getFirst().mask() instanceof AttentionMask.Custom custom) {
                int n = rows.getFirst().ids().length;
                long[] s = custom.allowed().shape();
                if (s.length != 2 || s[0] != n || s[1] != pastWidth + n) {
                    throw new IllegalArgumentException("custom mask " + custom.allowed() + " for " + n
                            + " new tokens after " + pastWidth + " cached");
                }
                return Ops.upload(custom.allowed(), device);
            }
            int cols = pastWidth + width;
            boolean[] allowed = new boolean[rows.size() * width * cols];
            for (int b = 0; b < rows.size(); b++) {
                int firstPast = pastWidth - rows.get(b).past().length();
                for (int i = 0; i < width; i++) {
                    int row = (b * width + i) * cols;
                    for (int j = firstPast; j < pastWidth; j++) allowed[row + j] = true;
                    for (int k = 0; k <= i; k++) allowed[row + pastWidth + k] = true;
                }
            }
            return Ops.upload(Tensors.fromBooleans(allowed, rows.size(), 1, width, cols), device);
        }

        @Override
        public void close() {
            owned.forEach(Tensor::close);
            tokenizer.close();
            loader.close();
        }

        @Override
        public String toString() {
            return "LlamaFamily." + variant + "[" + snapshot.dir() + ", " + device + ", " + dtype + "]";
        }
    }
}
