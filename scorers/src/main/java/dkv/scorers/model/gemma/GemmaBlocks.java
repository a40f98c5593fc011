package dkv.scorers.model.gemma;

import dkv.scorers.model.BatchGeometry;
import dkv.scorers.model.Rope;
import dkv.scorers.model.WeightLoader;
import dkv.scorers.model.Window;
import dkv.scorers.model.gemma.GemmaTextConfig.LayerType;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * The Gemma 3 block, written once for {@link Gemma3Family} (decoder-only) and {@link T5Gemma2Family} (its encoder and
 * decoder are stacks of the same block), in HF 5.17's order (ops/reference/T5GEMMA2-FACTS.md §3–§7): (1+w) RMSNorm in
 * float32 → GeGLU (tanh GELU) → attention (q/k RMSNorm per head before RoPE, scale {@code query_pre_attn_scalar^-0.5},
 * optional merged cross part) → sandwich layer with four norms → stack with per-layer-type RoPE tables and windows →
 * embedding (× √hidden in the weight dtype) and LM logits (optional final softcap).
 */
public final class GemmaBlocks {

    private GemmaBlocks() {
    }

    // ------------------------------------------------------------------------------------------ RMSNorm

    /**
     * Gemma's RMSNorm: {@code x32 · rsqrt(mean(x32²) + eps) · (1 + w32)}, all in float32 and cast to x's dtype only
     * after the multiply (Llama casts before). The stored weight w is a residual around 1, so {@code 1 + w} is kept.
     */
    record Norm(Tensor onePlusWeight, double eps) {

        Tensor apply(Tensor x) {
            Tensor result;
            try (TensorScope scope = TensorScope.open()) {
                // input and weight both float32, so libtorch's fused kernel applies (a bf16 input with a float32
                // weight may take its composite path instead); cast back once, as HF does
                result = scope.keep(Ops.to(Ops.rmsNorm(Ops.to(x, DType.FLOAT32), onePlusWeight, eps), x.dtype()));
            }
            return result;
        }
    }

    // ------------------------------------------------------------------------------------------ MLP

    /**
     * GeGLU: {@code down(gelu_tanh(gate(x)) ⊙ up(x))}, gate and up as two GEMMs so that the GELU and the product read
     * contiguous tensors (libtorch vectorizes only those; see the Llama family's SwiGLU).
     */
    record Mlp(Tensor gate, Tensor up, Tensor down) {

        Tensor forward(Tensor x) {
            Tensor result;
            try (TensorScope scope = TensorScope.open()) {
                Tensor h = Ops.mul(Ops.geluTanh(Ops.linear(x, gate)), Ops.linear(x, up));
                result = scope.keep(Ops.linear(h, down));
            }
            return result;
        }
    }

    // ------------------------------------------------------------------------------------------ attention

    /** One attention's o_proj output, its cache entries (past + new) and head-mean probabilities split at the self/cross boundary. */
    record AttentionOutput(Tensor output, Tensor keys, Tensor values, Tensor selfProbs, Tensor crossProbs) {}

    /** Keys and values [B, kvHeads, T, headDim]. */
    record KeyValues(Tensor keys, Tensor values) {}

    /**
     * Grouped-query attention with q/k RMSNorm over each head's dims before RoPE (values get none). The q, k and v
     * projections are one GEMM ({@code qkv}: q rows, then k, then v).
     */
    record Attention(Tensor qkv, Tensor o, Norm queryNorm, Norm keyNorm, int heads, int kvHeads, int headDim, double scale) {

        /**
         * @param x      [B, n, hidden] (already pre-normed)
         * @param cos    this layer type's RoPE table of the new tokens, [B, 1, n, headDim] in x's dtype (its signed sin alike: {@link Rope.Tables})
         * @param g, layer  the batch's geometry, which joins this layer's past to the new keys and values
         * @param mask   bool [B, 1, n, past + n (+ memory)], or null with {@code causal}
         * @param cross  an encoder-decoder's cross keys and values (already k-normed, unrotated), or null: T5Gemma 2 merges
         *               them into the same softmax as the self keys, {@code [self ; cross]}
         */
        AttentionOutput forward(Tensor x, Tensor cos, Tensor sin, BatchGeometry g, int layer, KeyValues cross,
                                Tensor mask, boolean causal, boolean wantProbs) {
            long batch = x.size(0);
            long n = x.size(1);
            AttentionOutput result;
            try (TensorScope scope = TensorScope.open()) {
                Tensor projected = Ops.linear(x, qkv);
                long qWidth = (long) heads * headDim;
                long kvWidth = (long) kvHeads * headDim;
                Tensor query = heads(queryNorm.apply(Ops.reshape(Ops.narrow(projected, -1, 0, qWidth), batch, n, heads, headDim)));
                Tensor key = heads(keyNorm.apply(Ops.reshape(Ops.narrow(projected, -1, qWidth, kvWidth), batch, n, kvHeads, headDim)));
                Tensor value = heads(Ops.reshape(Ops.narrow(projected, -1, qWidth + kvWidth, kvWidth), batch, n, kvHeads, headDim));
                query = Rope.apply(query, cos, sin, Rope.Pairing.HALF_SPLIT);
                key = Rope.apply(key, cos, sin, Rope.Pairing.HALF_SPLIT);
                Tensor keys = g.withPast(layer, true, key);
                Tensor values = g.withPast(layer, false, value);
                long selfColumns = keys.size(2);
                Tensor allKeys = cross == null ? keys : Ops.cat(2, keys, cross.keys());
                Tensor allValues = cross == null ? values : Ops.cat(2, values, cross.values());
                Tensor attended;
                Tensor selfProbs = null;
                Tensor crossProbs = null;
                if (wantProbs) {
                    Ops.Attention a = Ops.attentionWithProbs(query, Ops.repeatKvHeads(allKeys, heads / kvHeads),
                            Ops.repeatKvHeads(allValues, heads / kvHeads), mask, scale);
                    attended = a.output();
                    // [B, H, n, L] → mean over heads → [B, n, L], split where the cross keys begin
                    Tensor probs = Ops.meanLastDim(Ops.permute(a.probabilities(), 0, 2, 3, 1), false);
                    selfProbs = scope.keep(Ops.narrow(probs, -1, 0, selfColumns));
                    if (cross != null) crossProbs = scope.keep(Ops.narrow(probs, -1, selfColumns, probs.size(-1) - selfColumns));
                } else {
                    attended = Ops.groupedSdpa(query, allKeys, allValues, mask, causal, scale);
                }
                Tensor merged = Ops.reshape(Ops.transpose(attended, 1, 2), batch, n, qWidth);
                result = new AttentionOutput(scope.keep(Ops.linear(merged, o)), scope.keep(keys), scope.keep(values),
                        selfProbs, crossProbs);
            }
            return result;
        }

        /**
         * An encoder's output as this layer's cross keys and values: the same k/v projections and k-norm as the self
         * part, and no RoPE (cross keys carry no position, so hiding encoder tokens never needs a correction).
         */
        KeyValues crossKeyValues(Tensor encoderOutput) {
            long batch = encoderOutput.size(0);
            long t = encoderOutput.size(1);
            long kvWidth = (long) kvHeads * headDim;
            KeyValues result;
            try (TensorScope scope = TensorScope.open()) {
                Tensor projected = Ops.linear(encoderOutput, Ops.narrow(qkv, 0, (long) heads * headDim, 2 * kvWidth));
                Tensor key = heads(keyNorm.apply(Ops.reshape(Ops.narrow(projected, -1, 0, kvWidth), batch, t, kvHeads, headDim)));
                Tensor value = heads(Ops.reshape(Ops.narrow(projected, -1, kvWidth, kvWidth), batch, t, kvHeads, headDim));
                result = new KeyValues(scope.keep(Ops.contiguous(key)), scope.keep(Ops.contiguous(value)));
            }
            return result;
        }

        /** [B, T, heads, d] → [B, heads, T, d]. */
        private static Tensor heads(Tensor x) {
            return Ops.transpose(x, 1, 2);
        }
    }

    // ------------------------------------------------------------------------------------------ layer

    /**
     * The sandwich layer: {@code h = x + postAttention(attn(preAttention(x)))}, {@code out = h + postFeedforward(mlp(
     * preFeedforward(h)))}. Gemma 3 names the first two norms input_layernorm / post_attention_layernorm, T5Gemma 2
     * pre_self_attn_layernorm / post_self_attn_layernorm.
     */
    record Layer(LayerType type, Norm preAttention, Attention attention, Norm postAttention, Norm preFeedforward, Mlp mlp,
                 Norm postFeedforward) {

        List<Tensor> tensors() {
            return List.of(preAttention.onePlusWeight(), attention.qkv(), attention.o(), attention.queryNorm().onePlusWeight(),
                    attention.keyNorm().onePlusWeight(), postAttention.onePlusWeight(), preFeedforward.onePlusWeight(),
                    mlp.gate(), mlp.up(), mlp.down(), postFeedforward.onePlusWeight());
        }
    }

    /** The names of a layer's two attention norms in a checkpoint. */
    record NormNames(String preAttention, String postAttention) {
        static final NormNames GEMMA3 = new NormNames("input_layernorm", "post_attention_layernorm");
        static final NormNames T5GEMMA2 = new NormNames("pre_self_attn_layernorm", "post_self_attn_layernorm");
    }

    /**
     * Weights read through a {@link WeightLoader} (cast to the model dtype on load, so bf16 checkpoints run in float32
     * and the reverse), each one remembered so that the model can own them all.
     */
    static final class Weights {
        private final WeightLoader loader;
        private final List<Tensor> loaded = new ArrayList<>();

        Weights(WeightLoader loader) {
            this.loader = loader;
        }

        boolean contains(String name) {
            return loader.contains(name);
        }

        Tensor load(String name, long... shape) {
            Tensor t = loader.load(name, shape);
            loaded.add(t);
            return t;
        }

        /** {@code 1 + w} in float32 from the weight as the model dtype holds it (HF: {@code 1.0 + weight.float()}). */
        Norm norm(String name, long size, double eps) {
            Tensor onePlus;
            try (TensorScope scope = TensorScope.open()) {
                onePlus = scope.keep(Ops.add(Ops.to(loader.load(name, size), DType.FLOAT32), 1.0));
            }
            loaded.add(onePlus);
            return new Norm(onePlus, eps);
        }

        Layer layer(String prefix, GemmaTextConfig c, LayerType type, NormNames names) {
            long hidden = c.hiddenSize();
            long inter = c.intermediateSize();
            long qOut = (long) c.numHeads() * c.headDim();
            long kvOut = (long) c.numKvHeads() * c.headDim();
            double eps = c.rmsNormEps();
            Tensor qkv = loader.fused(prefix + "self_attn.", "weight", new String[] {"q_proj", "k_proj", "v_proj"},
                    new long[] {qOut, kvOut, kvOut}, hidden);
            loaded.add(qkv);
            Attention attention = new Attention(qkv, load(prefix + "self_attn.o_proj.weight", hidden, qOut),
                    norm(prefix + "self_attn.q_norm.weight", c.headDim(), eps), norm(prefix + "self_attn.k_norm.weight", c.headDim(), eps),
                    c.numHeads(), c.numKvHeads(), c.headDim(), 1.0 / Math.sqrt(c.queryPreAttnScalar()));
            Mlp mlp = new Mlp(load(prefix + "mlp.gate_proj.weight", inter, hidden), load(prefix + "mlp.up_proj.weight", inter, hidden),
                    load(prefix + "mlp.down_proj.weight", hidden, inter));
            return new Layer(type, norm(prefix + names.preAttention() + ".weight", hidden, eps), attention,
                    norm(prefix + names.postAttention() + ".weight", hidden, eps),
                    norm(prefix + "pre_feedforward_layernorm.weight", hidden, eps), mlp,
                    norm(prefix + "post_feedforward_layernorm.weight", hidden, eps));
        }

        /** A stack's layers {@code prefix + i + "."} and its final norm {@code normName}. */
        Stack stack(String layersPrefix, String normName, GemmaTextConfig c, boolean bidirectional, NormNames names) {
            List<Layer> layers = new ArrayList<>();
            for (int l = 0; l < c.layers(); l++) {
                layers.add(layer(layersPrefix + l + ".", c, c.layerTypes().get(l), names));
            }
            return new Stack(c, layers, norm(normName, c.hiddenSize(), c.rmsNormEps()), bidirectional);
        }

        /** Every tensor loaded so far, for the model to own. */
        List<Tensor> all() {
            return loaded;
        }
    }

    // ------------------------------------------------------------------------------------------ stack

    /** What a pass through a stack leaves: the last layer's hidden states (before the final norm) and per layer its cache entries and probabilities. */
    record Pass(Tensor hidden, List<Tensor> keys, List<Tensor> values, List<Tensor> selfProbs, List<Tensor> crossProbs) {}

    /**
     * A stack of layers (Gemma 3's decoder, T5Gemma 2's encoder or decoder) with its per-layer-type RoPE tables and
     * windows: each layer uses the table and window of its own type (sliding θ vs full θ with linear scaling).
     */
    static final class Stack {
        private final List<Layer> layers;
        private final Norm norm;
        private final int headDim;
        private final Map<LayerType, Rope> ropes = new EnumMap<>(LayerType.class);
        private final Map<LayerType, Window> windows = new EnumMap<>(LayerType.class);

        Stack(GemmaTextConfig c, List<Layer> layers, Norm norm, boolean bidirectional) {
            this.layers = List.copyOf(layers);
            this.norm = norm;
            this.headDim = c.headDim();
            for (int l = 0; l < c.layers(); l++) {
                LayerType t = c.layerTypes().get(l);
                ropes.computeIfAbsent(t, k -> new Rope(c.ropes().get(k).inverseFrequencies(c.headDim()), Rope.Pairing.HALF_SPLIT));
                windows.putIfAbsent(t, c.window(l, bidirectional));
            }
        }

        int size() {
            return layers.size();
        }

        Layer layer(int l) {
            return layers.get(l);
        }

        Norm norm() {
            return norm;
        }

        /** The RoPE table of layer {@code l}'s type (one object per type, so callers may group layers by identity). */
        Rope rope(int l) {
            return ropes.get(layers.get(l).type());
        }

        /** The distinct windows of the layers, for {@link BatchGeometry}. */
        List<Window> windows() {
            return List.copyOf(new LinkedHashSet<>(windows.values()));
        }

        /**
         * Every layer over {@code h} [B, width, hidden] in {@code g}'s layout. Masks (merged with {@code g}'s cross mask
         * when the rows carry an encoder memory) and RoPE tables are built once per layer type. With {@code keepCache}
         * false (an encoder) no layer's K/V outlive it.
         */
        Pass forward(BatchGeometry g, Tensor h, DType dtype, Device device, boolean keepCache) {
            int batch = g.batch();
            int width = g.width();
            long[] positions = g.positions(false);
            Map<LayerType, Tensor[]> tables = new EnumMap<>(LayerType.class);
            Map<LayerType, Tensor> masks = new EnumMap<>(LayerType.class);
            Map<LayerType, Boolean> causal = new EnumMap<>(LayerType.class);
            for (Map.Entry<LayerType, Rope> e : ropes.entrySet()) {
                Rope.Tables t = e.getValue().tables(positions, Rope.Pairing.HALF_SPLIT, device);
                tables.put(e.getKey(), new Tensor[] {Ops.reshape(Ops.to(t.cos(), dtype), batch, 1, width, headDim),
                        Ops.reshape(Ops.to(t.signedSin(), dtype), batch, 1, width, headDim)});
                Window w = windows.get(e.getKey());
                Tensor self = g.selfMask(w);
                // one softmax over [self ; cross]: the cross part is never windowed, never causal
                masks.put(e.getKey(), g.hasCross() ? Ops.cat(-1, self, g.crossMask()) : self);
                causal.put(e.getKey(), !g.hasCross() && g.isCausalFastPath(w));
            }
            List<Tensor> keys = new ArrayList<>();
            List<Tensor> values = new ArrayList<>();
            List<Tensor> selfProbs = new ArrayList<>();
            List<Tensor> crossProbs = new ArrayList<>();
            for (int l = 0; l < layers.size(); l++) {
                Layer layer = layers.get(l);
                LayerType type = layer.type();
                Tensor previous = h;
                // only the residual stream and the layer's K/V (and probabilities) outlive the layer's scope
                try (TensorScope layerScope = TensorScope.open()) {
                    KeyValues cross = g.hasCross() ? new KeyValues(g.stackMemory(l, true), g.stackMemory(l, false)) : null;
                    AttentionOutput a = layer.attention().forward(layer.preAttention().apply(h), tables.get(type)[0],
                            tables.get(type)[1], g, l, cross, masks.get(type),
                            causal.get(type), g.probsWanted());
                    Tensor next = Ops.add(h, layer.postAttention().apply(a.output()));
                    next = Ops.add(next, layer.postFeedforward().apply(layer.mlp().forward(layer.preFeedforward().apply(next))));
                    h = layerScope.keep(next);
                    if (keepCache) {
                        keys.add(layerScope.keep(a.keys()));
                        values.add(layerScope.keep(a.values()));
                    }
                    if (a.selfProbs() != null) selfProbs.add(layerScope.keep(a.selfProbs()));
                    if (a.crossProbs() != null) crossProbs.add(layerScope.keep(a.crossProbs()));
                }
                if (l > 0) previous.close();  // layer 0's input is the embedding, freed with the forward
            }
            return new Pass(h, keys, values, selfProbs, crossProbs);
        }

        List<Tensor> tensors() {
            List<Tensor> all = new ArrayList<>();
            layers.forEach(l -> all.addAll(l.tensors()));
            all.add(norm.onePlusWeight());
            return all;
        }
    }

    // ------------------------------------------------------------------------------------------ embedding, LM head

    /**
     * {@code E[ids] · √hidden}, the scale a float32 value cast to the table's dtype before the multiply, as HF's
     * {@code embed_scale} buffer is (bf16 turns √640 into 25.25).
     */
    static Tensor embed(Tensor table, Tensor ids, int hiddenSize) {
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor scale = Ops.to(Ops.to(Tensors.scalar(Math.sqrt(hiddenSize)), DType.FLOAT32), table.dtype());
            result = scope.keep(Ops.mul(Ops.embedding(table, ids), scale));
        }
        return result;
    }

    /**
     * LM logits (float32) of hidden rows [rows, hidden]: final norm, the (tied) table, then HF's
     * {@code cap·tanh(logits/cap)} in the model dtype when {@code softcap > 0}.
     */
    static Tensor logits(Tensor hidden, Norm finalNorm, Tensor head, double softcap) {
        Tensor result;
        try (TensorScope scope = TensorScope.open()) {
            Tensor logits = Ops.linear(finalNorm.apply(hidden), head);
            if (softcap > 0) logits = Ops.mul(Ops.tanh(Ops.div(logits, Tensors.scalar(softcap))), softcap);
            result = scope.keep(Ops.to(logits, DType.FLOAT32));
        }
        return result;
    }
}
