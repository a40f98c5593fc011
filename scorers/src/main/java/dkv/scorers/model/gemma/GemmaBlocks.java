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
     * projections are stored as one weight (q rows, then k, then v; the model owns it); the forward multiplies by two
     * row blocks of it ({@code queryKey}, {@code value}: views; {@code keyValue} projects an encoder's output), so
     * that q and k come out as one contiguous [B, n, heads + kvHeads, headDim] tensor that is normed and rotated in
     * place of its layout, every elementwise operand contiguous (libtorch vectorizes only those). {@code headNormWeights} is {@code 1 + w} of q_norm for each
     * query head's rows and of k_norm for each key head's, [heads + kvHeads, headDim] in float32.
     */
    record Attention(Tensor queryKey, Tensor value, Tensor keyValue, Tensor o, Norm queryNorm, Norm keyNorm,
                     Tensor headNormWeights, int heads, int kvHeads, int headDim, double scale) {

        /**
         * @param x      [B, n, hidden] (already pre-normed)
         * @param cos    this layer type's RoPE table of the new tokens, one row per rotated head: [B, n, heads + kvHeads,
         *               headDim] in x's dtype, contiguous (its signed sin alike: {@link Rope.Tables#perHead})
         * @param g, layer  the batch's geometry, which joins this layer's past to the new keys and values
         * @param mask   bool [B, 1, n, past + n (+ memory)] (folded by {@link Ops#foldMask} unless probabilities are
         *               wanted), or null with {@code causal}
         * @param cross  whether {@code g}'s rows carry an encoder memory (its cross keys and values already k-normed,
         *               unrotated): T5Gemma 2 merges them into the same softmax as the self keys, {@code [self ; cross]}
         */
        AttentionOutput forward(Tensor x, Tensor cos, Tensor sin, BatchGeometry g, int layer, boolean cross,
                                Tensor mask, boolean causal, boolean wantProbs) {
            long batch = x.size(0);
            long n = x.size(1);
            AttentionOutput result;
            try (TensorScope scope = TensorScope.open()) {
                long qWidth = (long) heads * headDim;
                Tensor rotated = Rope.apply(headNorms(Ops.reshape(Ops.linear(x, queryKey), batch, n, heads + kvHeads, headDim)),
                        cos, sin, Rope.Pairing.HALF_SPLIT);
                Tensor query = heads(Ops.narrow(rotated, 2, 0, heads));
                Tensor key = heads(Ops.narrow(rotated, 2, heads, kvHeads));
                Tensor value = heads(Ops.reshape(Ops.linear(x, this.value), batch, n, kvHeads, headDim));
                Tensor keys = g.withPast(layer, true, key);
                Tensor values = g.withPast(layer, false, value);
                long selfColumns = keys.size(2);
                Tensor allKeys = cross ? g.withMemory(layer, true, keys) : keys;
                Tensor allValues = cross ? g.withMemory(layer, false, values) : values;
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
                    if (cross) crossProbs = scope.keep(Ops.narrow(probs, -1, selfColumns, probs.size(-1) - selfColumns));
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
         * q_norm and k_norm over [B, n, heads + kvHeads, headDim] at once: HF's {@code x32 · rsqrt(mean(x32²) + eps) ·
         * (1 + w32)} per head, cast to x's dtype after the weight (both norms share the config's eps).
         */
        private Tensor headNorms(Tensor qk) {
            Tensor result;
            try (TensorScope scope = TensorScope.open()) {
                Tensor normed = Ops.rmsNorm(Ops.to(qk, DType.FLOAT32), null, queryNorm.eps());
                result = scope.keep(Ops.to(Ops.mul(normed, headNormWeights), qk.dtype()));
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
                Tensor projected = Ops.linear(encoderOutput, keyValue);
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
                 Norm postFeedforward) {}

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
            // row blocks of the fused weight: contiguous views, no second copy
            Tensor queryKey = owned(Ops.narrow(qkv, 0, 0, qOut + kvOut));
            Tensor value = owned(Ops.narrow(qkv, 0, qOut + kvOut, kvOut));
            Tensor keyValue = owned(Ops.narrow(qkv, 0, qOut, 2 * kvOut));
            Norm queryNorm = norm(prefix + "self_attn.q_norm.weight", c.headDim(), eps);
            Norm keyNorm = norm(prefix + "self_attn.k_norm.weight", c.headDim(), eps);
            Tensor headNormWeights = owned(Ops.contiguous(Ops.cat(0,
                    Ops.expand(Ops.reshape(queryNorm.onePlusWeight(), 1, c.headDim()), c.numHeads(), c.headDim()),
                    Ops.expand(Ops.reshape(keyNorm.onePlusWeight(), 1, c.headDim()), c.numKvHeads(), c.headDim()))));
            Attention attention = new Attention(queryKey, value, keyValue, load(prefix + "self_attn.o_proj.weight", hidden, qOut),
                    queryNorm, keyNorm, headNormWeights, c.numHeads(), c.numKvHeads(), c.headDim(),
                    1.0 / Math.sqrt(c.queryPreAttnScalar()));
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

        /** A tensor made from loaded ones (a view or a derived table), owned with them. */
        private Tensor owned(Tensor t) {
            loaded.add(t);
            return t;
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
        private final int rotatedHeads;
        private final int groups;
        private final Map<LayerType, Rope> ropes = new EnumMap<>(LayerType.class);
        private final Map<LayerType, Window> windows = new EnumMap<>(LayerType.class);

        Stack(GemmaTextConfig c, List<Layer> layers, Norm norm, boolean bidirectional) {
            this.layers = List.copyOf(layers);
            this.norm = norm;
            this.rotatedHeads = c.numHeads() + c.numKvHeads();
            this.groups = c.numHeads() / c.numKvHeads();
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
                Rope.Tables t = e.getValue().tables(positions, Rope.Pairing.HALF_SPLIT, device).perHead(batch, width, rotatedHeads, dtype);
                tables.put(e.getKey(), new Tensor[] {t.cos(), t.signedSin()});
                Window w = windows.get(e.getKey());
                Tensor self = g.selfMask(w);
                // one softmax over [self ; cross]: the cross part is never windowed, never causal
                Tensor mask = g.hasCross() ? Ops.cat(-1, self, Ops.expand(g.crossMask(), batch, 1, width, g.memoryWidth())) : self;
                masks.put(e.getKey(), g.forGroupedAttention(mask, groups));
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
                    AttentionOutput a = layer.attention().forward(layer.preAttention().apply(h), tables.get(type)[0],
                            tables.get(type)[1], g, l, g.hasCross(), masks.get(type),
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
