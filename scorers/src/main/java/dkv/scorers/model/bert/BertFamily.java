package dkv.scorers.model.bert;

import dkv.scorers.model.LoadedModelBasics;
import dkv.scorers.model.AttentionMask;
import dkv.scorers.model.BatchGeometry;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.KvCache;
import dkv.scorers.model.ModelFamily;
import dkv.scorers.model.ModelSnapshot;
import dkv.scorers.model.SegmentTokenizer;
import dkv.scorers.model.TextEncoder;
import dkv.scorers.model.WeightLoader;
import dkv.scorers.model.Window;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * BERT sentence encoders (sentence-transformers snapshots such as all-MiniLM-L6-v2) in one file, in HF
 * {@code modeling_bert.py}'s order: LayerNorm → embeddings (word + token type 0 + absolute position, then LayerNorm)
 * → self-attention (bidirectional; padding masked by {@link BatchGeometry}) → post-LayerNorm layer (attention
 * output + residual → norm, exact-GELU MLP + residual → norm) → encoder → {@link Pooling} and L2 normalisation.
 * Inputs are cut at the snapshot's {@code max_seq_length} ({@link SentenceTransformerConfig}) whatever
 * {@code tokenizer.json} says about truncation or padding.
 */
public final class BertFamily implements ModelFamily {

    public static final BertFamily INSTANCE = new BertFamily();

    /** Batch limits of {@link TextEncoder#embed}: rows, and tokens once padded (bounds the [B, H, L, L] attention). */
    static final EmbeddingBatches BATCHES = new EmbeddingBatches(128, 16_384);

    private BertFamily() {
    }

    @Override
    public String name() {
        return "bert";
    }

    @Override
    public Set<String> modelTypes() {
        return Set.of("bert");
    }

    @Override
    public Set<String> architectures() {
        return Set.of("BertModel", "BertForMaskedLM", "BertForPreTraining");
    }

    @Override
    public TextEncoder load(ModelSnapshot snapshot, Device device, DType dtype) {
        BertConfig c = BertConfig.read(snapshot.config());
        SentenceTransformerConfig st = SentenceTransformerConfig.read(snapshot.dir(), c.hiddenSize(), c.maxPositions());
        if (!dtype.isFloatingPoint()) throw new IllegalArgumentException("model dtype must be floating point, got " + dtype);
        return Encoder.load(snapshot, c, st, device, dtype);
    }

    // ------------------------------------------------------------------------------------------ LayerNorm

    /** {@code (x − mean) / sqrt(var + eps) · weight + bias} over the last dim, statistics in float32 (torch's LayerNorm). */
    record LayerNorm(Tensor weight, Tensor bias, double eps) {
        Tensor forward(Tensor x) {
            Tensor result;
            try (TensorScope scope = TensorScope.open()) {
                // normalised in float32 (Ops.layerNorm's precision for 16-bit x), the affine part in x's dtype
                Tensor normed = Ops.layerNorm(x, null, null, eps);
                result = scope.keep(Ops.add(Ops.mul(normed, weight), bias));
            }
            return result;
        }
    }

    // ------------------------------------------------------------------------------------------ embeddings

    /**
     * Word + token-type + absolute position embeddings, then LayerNorm. Every input is one segment, so the token
     * type is 0 throughout; positions are 0..n−1 per row (rows are left-aligned).
     */
    record Embeddings(Tensor word, Tensor position, Tensor tokenType, LayerNorm norm) {
        Tensor forward(Tensor ids, Tensor positions) {
            Tensor result;
            try (TensorScope scope = TensorScope.open()) {
                // HF's order of additions: (word + token type) + position
                Tensor h = Ops.add(Ops.embedding(word, ids), Ops.select(tokenType, 0, 0));
                h = Ops.add(h, Ops.embedding(position, positions));
                result = scope.keep(norm.forward(h));
            }
            return result;
        }
    }

    // ------------------------------------------------------------------------------------------ attention

    /**
     * Multi-head self-attention and its output block ({@code BertAttention}): the query, key and value projections
     * fused into one GEMM ({@code qkv} is [3·hidden, hidden], query rows first), SDPA under the batch's mask, then the
     * output projection, residual and post-LayerNorm.
     */
    record Attention(Tensor qkv, Tensor qkvBias, Tensor output, Tensor outputBias, LayerNorm norm, int heads, int headDim) {
        /**
         * @param x    [B, width, hidden]
         * @param mask bool [B, 1, width, width] from {@link BatchGeometry#selfMask}: every row's own tokens, no padding
         */
        Tensor forward(Tensor x, Tensor mask) {
            long batch = x.size(0);
            long n = x.size(1);
            long width = (long) heads * headDim;
            Tensor result;
            try (TensorScope scope = TensorScope.open()) {
                Tensor projected = Ops.linear(x, qkv, qkvBias);
                Tensor[] qkvHeads = new Tensor[3];
                for (int i = 0; i < 3; i++) {
                    qkvHeads[i] = Ops.transpose(Ops.reshape(Ops.narrow(projected, -1, i * width, width), batch, n, heads, headDim), 1, 2);
                }
                Tensor attended = Ops.sdpa(qkvHeads[0], qkvHeads[1], qkvHeads[2], mask, false, 1.0 / Math.sqrt(headDim));
                Tensor merged = Ops.reshape(Ops.transpose(attended, 1, 2), batch, n, width);
                result = scope.keep(norm.forward(Ops.add(Ops.linear(merged, output, outputBias), x)));
            }
            return result;
        }
    }

    // ------------------------------------------------------------------------------------------ MLP

    /** {@code BertIntermediate} + {@code BertOutput}: dense → exact GELU → dense, residual, post-LayerNorm. */
    record Mlp(Tensor up, Tensor upBias, Tensor down, Tensor downBias, LayerNorm norm) {
        Tensor forward(Tensor x) {
            Tensor result;
            try (TensorScope scope = TensorScope.open()) {
                Tensor h = Ops.gelu(Ops.linear(x, up, upBias));
                result = scope.keep(norm.forward(Ops.add(Ops.linear(h, down, downBias), x)));
            }
            return result;
        }
    }

    // ------------------------------------------------------------------------------------------ layer

    record Layer(Attention attention, Mlp mlp) {
        Tensor forward(Tensor x, Tensor mask) {
            Tensor result;
            try (TensorScope scope = TensorScope.open()) {
                result = scope.keep(mlp.forward(attention.forward(x, mask)));
            }
            return result;
        }
    }

    // ------------------------------------------------------------------------------------------ encoder + pooling

    static final class Encoder extends LoadedModelBasics<SegmentTokenizer> implements TextEncoder {
        private final BertConfig config;
        private final SentenceTransformerConfig st;
        private final Embeddings embeddings;
        private final List<Layer> layers;

        private Encoder(ModelSnapshot snapshot, BertConfig config, SentenceTransformerConfig st, Device device, DType dtype,
                        WeightLoader loader, SegmentTokenizer tokenizer, Embeddings embeddings, List<Layer> layers,
                        List<Tensor> owned) {
            super(INSTANCE.name(), snapshot, tokenizer, device, dtype, loader, owned);
            this.config = config;
            this.st = st;
            this.embeddings = embeddings;
            this.layers = layers;
        }

        static Encoder load(ModelSnapshot snapshot, BertConfig c, SentenceTransformerConfig st, Device device, DType dtype) {
            WeightLoader loader = new WeightLoader(snapshot.weights(), device, dtype);
            List<Tensor> owned = new ArrayList<>();
            SegmentTokenizer tokenizer = null;
            try (TensorScope scope = TensorScope.open()) {
                long hid = c.hiddenSize();
                long inter = c.intermediateSize();
                // BertModel saves bare names; BertForMaskedLM, BertForPreTraining, ... put the encoder under "bert."
                String root = loader.contains("bert.embeddings.word_embeddings.weight") ? "bert." : "";
                String e = root + "embeddings.";
                Embeddings embeddings = new Embeddings(
                        loader.load(e + "word_embeddings.weight", c.vocabSize(), hid),
                        loader.load(e + "position_embeddings.weight", c.maxPositions(), hid),
                        loader.load(e + "token_type_embeddings.weight", c.typeVocabSize(), hid),
                        layerNorm(loader, e + "LayerNorm.", hid, c.layerNormEps()));
                List<Layer> layers = new ArrayList<>();
                for (int l = 0; l < c.numLayers(); l++) {
                    String p = root + "encoder.layer." + l + ".";
                    String[] qkv = {"query", "key", "value"};
                    long[] rows = {hid, hid, hid};
                    Attention attention = new Attention(
                            loader.fused(p + "attention.self.", "weight", qkv, rows, hid),
                            loader.fused(p + "attention.self.", "bias", qkv, rows),
                            loader.load(p + "attention.output.dense.weight", hid, hid),
                            loader.load(p + "attention.output.dense.bias", hid),
                            layerNorm(loader, p + "attention.output.LayerNorm.", hid, c.layerNormEps()),
                            c.numHeads(), c.headDim());
                    Mlp mlp = new Mlp(
                            loader.load(p + "intermediate.dense.weight", inter, hid),
                            loader.load(p + "intermediate.dense.bias", inter),
                            loader.load(p + "output.dense.weight", hid, inter),
                            loader.load(p + "output.dense.bias", hid),
                            layerNorm(loader, p + "output.LayerNorm.", hid, c.layerNormEps()));
                    layers.add(new Layer(attention, mlp));
                }
                tokenizer = SegmentTokenizer.openTruncating(snapshot.dir(), st.maxTokens());
                // the encoder owns its weights for its whole life: move them out of the loading scope
                owned.addAll(keepAll(scope, embeddings, layers));
                return new Encoder(snapshot, c, st, device, dtype, loader, tokenizer, embeddings, layers, owned);
            } catch (RuntimeException ex) {
                owned.forEach(Tensor::close);
                if (tokenizer != null) tokenizer.close();
                loader.close();
                throw ex;
            }
        }

        private static LayerNorm layerNorm(WeightLoader loader, String prefix, long hidden, double eps) {
            return new LayerNorm(loader.load(prefix + "weight", hidden), loader.load(prefix + "bias", hidden), eps);
        }

        private static List<Tensor> keepAll(TensorScope scope, Embeddings e, List<Layer> layers) {
            List<Tensor> all = new ArrayList<>(List.of(e.word(), e.position(), e.tokenType(), e.norm().weight(), e.norm().bias()));
            for (Layer l : layers) {
                Attention a = l.attention();
                Mlp m = l.mlp();
                all.addAll(List.of(a.qkv(), a.qkvBias(), a.output(), a.outputBias(), a.norm().weight(), a.norm().bias(),
                        m.up(), m.upBias(), m.down(), m.downBias(), m.norm().weight(), m.norm().bias()));
            }
            all.forEach(scope::keep);
            return all;
        }

        @Override
        public List<Embedding> embed(List<String> texts) {
            List<int[]> ids = tokenizer.encodeAll(texts);
            int[] lengths = new int[ids.size()];
            for (int i = 0; i < lengths.length; i++) {
                lengths[i] = ids.get(i).length;
                if (lengths[i] > st.maxTokens()) {
                    throw new IllegalStateException(snapshot.dir() + ": the tokenizer returned " + lengths[i]
                            + " tokens, past the truncation length " + st.maxTokens());
                }
            }
            Embedding[] out = new Embedding[ids.size()];
            for (int[] batch : BATCHES.cut(lengths)) {
                List<int[]> rows = Arrays.stream(batch).mapToObj(ids::get).toList();
                float[][] vectors = forward(rows);
                for (int r = 0; r < batch.length; r++) {
                    out[batch[r]] = new Embedding(Embedding.unitLength(vectors[r]), lengths[batch[r]]);
                }
            }
            return List.of(out);
        }

        /** One padded batch through the encoder and the pooling: one float32 vector per row, before normalisation. */
        private float[][] forward(List<int[]> rows) {
            List<ForwardRequest> requests = rows.stream().map(r -> new ForwardRequest(r, ForwardRequest.consecutive(0, r.length),
                    KvCache.empty(), AttentionMask.bidirectional(), 0, 0, false)).toList();
            float[] flat;
            int batch = rows.size();
            try (TensorScope scope = TensorScope.open()) {
                BatchGeometry g = new BatchGeometry(requests, device, config.vocabSize(), List.of(Window.NONE));
                int width = g.width();
                Tensor positions = Ops.upload(Tensors.fromLongs(g.positions(false), batch, width), device);
                Tensor mask = g.selfMask(Window.NONE);
                Tensor h = embeddings.forward(g.ids(), positions);
                for (Layer layer : layers) {
                    Tensor previous = h;
                    h = layer.forward(h, mask);
                    previous.close(); // one layer's activations alive at a time
                }
                boolean[] kept = new boolean[batch * width];
                for (int b = 0; b < batch; b++) Arrays.fill(kept, b * width, b * width + rows.get(b).length, true);
                Tensor keptMask = Ops.upload(Tensors.fromBooleans(kept, batch, width), device);
                flat = Tensors.toFloatArray(st.pooling().pool(h, keptMask));
            }
            int hidden = config.hiddenSize();
            float[][] vectors = new float[batch][];
            for (int b = 0; b < batch; b++) vectors[b] = Arrays.copyOfRange(flat, b * hidden, (b + 1) * hidden);
            return vectors;
        }

        @Override
        public int maxTokens() {
            return st.maxTokens();
        }

        @Override
        public int dimension() {
            return config.hiddenSize();
        }

        @Override
        public String toString() {
            return "BertFamily.Encoder[" + snapshot.dir() + ", " + st.pooling() + " pooling, " + st.maxTokens() + " tokens, "
                    + device + ", " + dtype + "]";
        }
    }
}
