package dkv.scorers.model.gemma;

import dkv.scorers.model.LoadedModelBasics;
import dkv.scorers.model.BatchGeometry;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ConfigFields;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.model.ModelFamily;
import dkv.scorers.model.ModelSnapshot;
import dkv.scorers.model.Rope;
import dkv.scorers.model.SegmentTokenizer;
import dkv.scorers.model.WeightLoader;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import java.util.List;
import java.util.Set;

/**
 * Gemma 3 decoder-only ({@code Gemma3ForCausalLM}; the research's v4 model): the {@link GemmaBlocks} stack with causal
 * masks, sliding layers {@code (q−W, q]}, and each layer's keys rotated by its type's table, which {@link #rope}
 * returns so that truncation re-rotates every layer with its own table. Also reads the text part of a
 * {@code Gemma3ForConditionalGeneration} checkpoint (Gemma-3-4B/12B/27B: text keys under {@code text_config}, text
 * weights under {@code language_model.model.} or 5.x's {@code model.language_model.}); its vision tower is never
 * loaded.
 */
public final class Gemma3Family implements ModelFamily {

    public static final Gemma3Family INSTANCE = new Gemma3Family();

    /** Where a checkpoint keeps the text model's weights, by layout. */
    private static final List<String> TEXT_PREFIXES = List.of("model.", "language_model.model.", "model.language_model.");

    private Gemma3Family() {
    }

    @Override
    public String name() {
        return "gemma3";
    }

    @Override
    public Set<String> modelTypes() {
        return Set.of("gemma3_text", "gemma3");
    }

    @Override
    public Set<String> architectures() {
        return Set.of("Gemma3ForCausalLM", "Gemma3ForConditionalGeneration");
    }

    @Override
    public CausalLm load(ModelSnapshot snapshot, Device device, DType dtype) {
        if (!dtype.isFloatingPoint()) throw new IllegalArgumentException("model dtype must be floating point, got " + dtype);
        ConfigFields top = snapshot.config();
        GemmaTextConfig c = GemmaTextConfig.read(top.has("text_config") ? top.object("text_config") : top);
        return Model.load(snapshot, c, device, dtype);
    }

    static final class Model extends LoadedModelBasics<SegmentTokenizer> implements CausalLm {
        private final GemmaTextConfig config;
        private final Tensor embed;
        private final GemmaBlocks.Stack stack;
        private final Tensor lmHead;

        private Model(ModelSnapshot snapshot, GemmaTextConfig config, Device device, DType dtype, WeightLoader loader,
                      SegmentTokenizer tokenizer, Tensor embed, GemmaBlocks.Stack stack, Tensor lmHead, List<Tensor> owned) {
            super(INSTANCE.name(), snapshot, tokenizer, device, dtype, loader, owned);
            this.config = config;
            this.embed = embed;
            this.stack = stack;
            this.lmHead = lmHead;
        }

        static Model load(ModelSnapshot snapshot, GemmaTextConfig c, Device device, DType dtype) {
            WeightLoader loader = new WeightLoader(snapshot.weights(), device, dtype);
            GemmaBlocks.Weights weights = new GemmaBlocks.Weights(loader);
            SegmentTokenizer tokenizer = null;
            try (TensorScope scope = TensorScope.open()) {
                String p = textPrefix(snapshot, loader);
                Tensor embed = weights.load(p + "embed_tokens.weight", c.vocabSize(), c.hiddenSize());
                GemmaBlocks.Stack stack = weights.stack(p + "layers.", p + "norm.weight", c, false, GemmaBlocks.NormNames.GEMMA3);
                // HF ties lm_head to the embedding when the config says so, whatever the file holds (and omits it)
                Tensor lmHead = c.tieWordEmbeddings() ? embed : weights.load("lm_head.weight", c.vocabSize(), c.hiddenSize());
                tokenizer = snapshot.openTokenizer();
                List<Tensor> owned = List.copyOf(weights.all());
                owned.forEach(scope::keep);
                return new Model(snapshot, c, device, dtype, loader, tokenizer, embed, stack, lmHead, owned);
            } catch (RuntimeException e) {
                if (tokenizer != null) tokenizer.close();
                loader.close();
                throw e;
            }
        }

        private static String textPrefix(ModelSnapshot snapshot, WeightLoader loader) {
            for (String p : TEXT_PREFIXES) if (loader.contains(p + "embed_tokens.weight")) return p;
            throw new IllegalArgumentException(snapshot.dir() + ": no Gemma 3 text embedding in the safetensors (looked for "
                    + TEXT_PREFIXES.stream().map(p -> p + "embed_tokens.weight").toList() + ")");
        }

        @Override
        public int layers() {
            return stack.size();
        }

        /** Layer {@code layer}'s type's table: sliding θ, or full θ with its linear scaling. */
        @Override
        public Rope rope(int layer) {
            return stack.rope(layer);
        }

        @Override
        public List<ForwardResult> forwardBatch(List<ForwardRequest> rows) {
            if (rows.isEmpty()) return List.of();
            for (ForwardRequest r : rows) {
                if (!r.past().isEmpty() && r.past().layers() != stack.size()) {
                    throw new IllegalArgumentException("past cache has " + r.past().layers() + " layers, model " + stack.size());
                }
                if (r.cross() != null) throw new IllegalArgumentException(snapshot.dir() + ": a decoder-only model has no encoder memory");
                if (r.positions().isTwoD()) throw new IllegalArgumentException(snapshot.dir() + ": 2D positions for a 1D-RoPE model");
            }
            List<ForwardResult> results;
            try (TensorScope scope = TensorScope.open()) {
                BatchGeometry g = new BatchGeometry(rows, device, config.vocabSize(), stack.windows());
                Tensor h = GemmaBlocks.embed(embed, g.ids(), config.hiddenSize());
                GemmaBlocks.Pass pass = stack.forward(g, h, dtype, device, true);
                Tensor hidden = g.logitRows(pass.hidden());
                Tensor logits = hidden == null ? null
                        : GemmaBlocks.logits(hidden, stack.norm(), lmHead, config.finalLogitSoftcapping());
                results = g.results(pass.keys(), pass.values(), pass.selfProbs(), List.of(), logits, scope);
            }
            return results;
        }

        @Override
        public String toString() {
            return "Gemma3Family.Model[" + snapshot.dir() + ", " + device + ", " + dtype + "]";
        }
    }
}
