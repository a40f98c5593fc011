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

        boolean qkvBias(LlamaConfig c) {
            return this == QWEN2 || (this == LLAMA && c.attentionBias());
        }

        boolean outputBias(LlamaConfig c) {
            return this == LLAMA && c.attentionBias();
        }

        boolean mlpBias(LlamaConfig c) {
            return this == LLAMA && c.mlpBias();
        }

        static Variant of(LlamaConfig c) {
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
        LlamaConfig c = LlamaConfig.read(snapshot.config());
        if (!c.hiddenAct().equals("silu")) {
            throw new IllegalArgumentException(snapshot.dir() + ": hidden_act '" + c.hiddenAct()
                    + "' is not supported by the Llama family (silu only)");
        }
        if (!dtype.isFloatingPoint()) throw new IllegalArgumentException("model dtype must be floating point, got " + dtype);
        return Model.load(snapshot, c, Variant.of(c), device, dtype);
    }

    // ------------------------------------------------------------------------------------------ RMSNorm

    /** {@code weight * (x / sqrt(mean(x²) + eps))}, the statistics in float32 as HF's LlamaRMSNorm. */
    static Tensor rmsNorm(Tensor x, Tensor weight, double eps) {
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            // normalised in float32 and cast back by Ops.rmsNorm; the weight multiplies after, in x's dtype, as HF does
            result = scope.keep(Ops.mul(weight, Ops.rmsNorm(x, null, eps)));
        }
        return result;
    }

    // ------------------------------------------------------------------------------------------ MLP

    /**
     * SwiGLU: {@code down(silu(gate(x)) * up(x))}, gate and up as two GEMMs so that silu and the product read contiguous
     * tensors (libtorch vectorizes only those: on the strided halves of one fused GEMM's output the whole MLP took 6.6%
     * longer at a prefill's 10 656 tokens; a fused GEMM with a transposed [2·intermediate, N] output, whose halves are
     * contiguous, 9.8% longer: ops/gpu/bench/elementwise_check.py, NOTES "Session 4"). Biases are null when the config
     * has none.
     */
    record Mlp(Tensor gate, Tensor up, Tensor down, Tensor gateBias, Tensor upBias, Tensor downBias) {
        Tensor forward(Tensor x) {
            Tensor result;
            try (TensorScope scope = TensorScope.open()) {
                Tensor h = Ops.mul(Ops.silu(linear(x, gate, gateBias)), linear(x, up, upBias));
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
     * Queries and keys are one GEMM ({@code queryKey}: [(heads + kvHeads)·headDim, hidden], q rows then k), rotated in
     * one pass in the GEMM's own contiguous [B, n, heads + kvHeads, headDim] layout; values are a second GEMM.
     */
    record Attention(Tensor queryKey, Tensor value, Tensor o, Tensor queryKeyBias, Tensor valueBias, Tensor oBias,
                     int heads, int kvHeads, int headDim) {

        /**
         * @param x        [B, n, hidden]
         * @param cos,sin  RoPE tables of the new tokens' positions in x's dtype, one row per head (cos and the signed
         *                 sin of {@link Rope.Tables}): [B, n, heads + kvHeads, headDim], contiguous
         * @param g, layer  the batch's geometry, which joins this layer's past to the new keys and values
         * @param mask     null with {@code causal} (no past), else bool, broadcastable to [B, 1, n, past + n], or
         *                 already folded for {@link Ops#groupedSdpa} ({@link Ops#foldMask}) when no probabilities are wanted
         */
        AttentionOutput forward(Tensor x, Tensor cos, Tensor sin, BatchGeometry g, int layer,
                                Tensor mask, boolean causal, boolean wantProbs) {
            long batch = x.size(0);
            long n = x.size(1);
            AttentionOutput result;
            try (TensorScope scope = TensorScope.open()) {
                // one rotary pass over query and key heads, every operand contiguous (the same elementwise math as two
                // passes over [B, H, n, D] views with broadcast tables, which libtorch runs unvectorized)
                Tensor rotated = Rope.apply(Ops.reshape(linear(x, queryKey, queryKeyBias), batch, n, heads + kvHeads, headDim),
                        cos, sin, Rope.Pairing.HALF_SPLIT);
                Tensor query = Ops.transpose(Ops.narrow(rotated, 2, 0, heads), 1, 2);
                Tensor key = Ops.transpose(Ops.narrow(rotated, 2, heads, kvHeads), 1, 2);
                Tensor value = Ops.transpose(Ops.reshape(linear(x, this.value, valueBias), batch, n, kvHeads, headDim), 1, 2);
                Tensor keys = g.withPast(layer, true, key);
                Tensor values = g.withPast(layer, false, value);
                int groups = heads / kvHeads;
                double scale = 1.0 / Math.sqrt(headDim);
                Tensor attended;
                Tensor probs = null;
                if (wantProbs) {
                    Ops.Attention a = Ops.attentionWithProbs(query, Ops.repeatKvHeads(keys, groups), Ops.repeatKvHeads(values, groups),
                            mask, scale);
                    attended = a.output();
                    // [B, H, n, L] → mean over heads → [B, n, L]
                    probs = scope.keep(Ops.meanLastDim(Ops.permute(a.probabilities(), 0, 2, 3, 1), false));
                } else {
                    attended = Ops.groupedSdpa(query, keys, values, mask, causal, scale);
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

    static final class Model extends LoadedModelBasics<SegmentTokenizer> implements CausalLm {
        private final LlamaConfig config;
        private final Variant variant;
        private final Rope rope;
        private final Window window;
        private final Tensor embed;
        private final List<Layer> layers;
        private final Tensor norm;
        private final Tensor lmHead;

        private Model(ModelSnapshot snapshot, LlamaConfig config, Variant variant, Device device, DType dtype, WeightLoader loader,
                      SegmentTokenizer tokenizer, Tensor embed, List<Layer> layers, Tensor norm, Tensor lmHead,
                      List<Tensor> owned) {
            super(INSTANCE.name(), snapshot, tokenizer, device, dtype, loader, owned);
            this.config = config;
            this.variant = variant;
            this.rope = new Rope(config.inverseFrequencies(), Rope.Pairing.HALF_SPLIT);
            // Mistral's sliding window (HF: keys in (q − W, q]); 0 = none
            this.window = config.slidingWindow() > 0 ? Window.causal(config.slidingWindow()) : Window.NONE;
            this.embed = embed;
            this.layers = layers;
            this.norm = norm;
            this.lmHead = lmHead;
        }

        static Model load(ModelSnapshot snapshot, LlamaConfig c, Variant variant, Device device, DType dtype) {
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
                    String[] queryKey = {"q_proj", "k_proj"};
                    long[] queryKeyRows = {qOut, kvOut};
                    Attention attention = new Attention(
                            loader.fused(p + "self_attn.", "weight", queryKey, queryKeyRows, hid),
                            loader.load(p + "self_attn.v_proj.weight", kvOut, hid),
                            loader.load(p + "self_attn.o_proj.weight", hid, qOut),
                            qkvBias ? loader.fused(p + "self_attn.", "bias", queryKey, queryKeyRows) : null,
                            qkvBias ? loader.load(p + "self_attn.v_proj.bias", kvOut) : null,
                            variant.outputBias(c) ? loader.load(p + "self_attn.o_proj.bias", hid) : null,
                            c.numHeads(), c.numKvHeads(), c.headDim());
                    Mlp mlp = new Mlp(
                            loader.load(p + "mlp.gate_proj.weight", inter, hid),
                            loader.load(p + "mlp.up_proj.weight", inter, hid),
                            loader.load(p + "mlp.down_proj.weight", hid, inter),
                            mlpBias ? loader.load(p + "mlp.gate_proj.bias", inter) : null,
                            mlpBias ? loader.load(p + "mlp.up_proj.bias", inter) : null,
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
                return new Model(snapshot, c, variant, device, dtype, loader, tokenizer, embed, layers, norm, lmHead, owned);
            } catch (RuntimeException e) {
                owned.forEach(Tensor::close);
                if (tokenizer != null) tokenizer.close();
                loader.close();
                throw e;
            }
        }

        private static List<Tensor> keepAll(TensorScope scope, Tensor embed, Tensor norm, Tensor lmHead, List<Layer> layers) {
            List<Tensor> all = new ArrayList<>();
            all.add(embed);
            all.add(norm);
            if (lmHead != embed) all.add(lmHead);
            for (Layer l : layers) {
                Attention a = l.attention();
                Mlp m = l.mlp();
                for (Tensor t : new Tensor[] {l.inputNorm(), l.postAttentionNorm(), a.queryKey(), a.value(), a.o(),
                        a.queryKeyBias(), a.valueBias(), a.oBias(), m.gate(), m.up(), m.down(), m.gateBias(), m.upBias(), m.downBias()}) {
                    if (t != null) all.add(t);
                }
            }
            all.forEach(scope::keep);
            return all;
        }

        @Override
        public int layers() {
            return layers.size();
        }

        @Override
        public Rope rope(int layer) {
            return rope;
        }

        /**
         * The forward over {@link BatchGeometry}'s padded layout: one pass through the layers, then per row views of
         * its cache entries, logits and attention probabilities (no copies).
         */
        @Override
        public List<ForwardResult> forwardBatch(List<ForwardRequest> rows) {
            LlamaConfig c = config;
            if (rows.isEmpty()) return List.of();
            for (ForwardRequest r : rows) {
                if (!r.past().isEmpty() && r.past().layers() != layers.size()) {
                    throw new IllegalArgumentException("past cache has " + r.past().layers() + " layers, model " + layers.size());
                }
                if (r.cross() != null) throw new IllegalArgumentException(snapshot.dir() + ": a decoder-only model has no encoder memory");
                if (r.positions().isTwoD()) throw new IllegalArgumentException(snapshot.dir() + ": 2D positions for a 1D-RoPE model");
            }
            List<ForwardResult> results;
            try (TensorScope scope = TensorScope.open()) {
                BatchGeometry g = new BatchGeometry(rows, device, c.vocabSize(), List.of(window));
                int batch = g.batch();
                int width = g.width();
                Tensor h = Ops.embedding(embed, g.ids());
                Rope.Tables t = rope.tables(g.positions(false), Rope.Pairing.HALF_SPLIT, device)
                        .perHead(batch, width, c.numHeads() + c.numKvHeads(), dtype);
                Tensor cos = t.cos();
                Tensor sin = t.signedSin();
                Tensor mask = g.forGroupedAttention(g.selfMask(window), c.numHeads() / c.numKvHeads());
                boolean causalOnly = g.isCausalFastPath(window);
                List<Tensor> keys = new ArrayList<>();
                List<Tensor> values = new ArrayList<>();
                List<Tensor> probs = new ArrayList<>();
                for (int l = 0; l < layers.size(); l++) {
                    Layer layer = layers.get(l);
                    Tensor previous = h;
                    // A layer's intermediates (norm outputs, the stacked padded past, attention and MLP outputs) die
                    // with its scope: only the residual stream and the layer's K/V (and probabilities) outlive it, so
                    // a large batch holds one layer's activations at a time, not all of them until the forward ends.
                    try (TensorScope layerScope = TensorScope.open()) {
                        AttentionOutput a = layer.attention().forward(rmsNorm(h, layer.inputNorm(), c.rmsNormEps()), cos, sin,
                                g, l, mask, causalOnly, g.probsWanted());
                        Tensor next = Ops.add(h, a.output());
                        next = Ops.add(next, layer.mlp().forward(rmsNorm(next, layer.postAttentionNorm(), c.rmsNormEps())));
                        h = layerScope.keep(next);
                        keys.add(layerScope.keep(a.keys()));
                        values.add(layerScope.keep(a.values()));
                        if (a.headMeanProbabilities() != null) probs.add(layerScope.keep(a.headMeanProbabilities()));
                    }
                    if (l > 0) previous.close(); // layer 0's input is a view of the embedding, freed with the forward
                }
                Tensor hidden = g.logitRows(h);
                Tensor logits = hidden == null ? null
                        : Ops.to(Ops.linear(rmsNorm(hidden, norm, c.rmsNormEps()), lmHead), DType.FLOAT32);
                results = g.results(keys, values, probs, List.of(), logits, scope);
            }
            return results;
        }

        @Override
        public String toString() {
            return "LlamaFamily." + variant + "[" + snapshot.dir() + ", " + device + ", " + dtype + "]";
        }
    }
}
