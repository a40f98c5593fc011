package dkv.scorers.model.gemma;

import dkv.scorers.model.LoadedModelBasics;
import dkv.scorers.model.AttentionMask;
import dkv.scorers.model.BatchGeometry;
import dkv.scorers.model.ConfigFields;
import dkv.scorers.model.EncoderMemory;
import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.model.KvCache;
import dkv.scorers.model.ModelFamily;
import dkv.scorers.model.ModelSnapshot;
import dkv.scorers.model.SegmentTokenizer;
import dkv.scorers.model.Seq2SeqLm;
import dkv.scorers.model.WeightLoader;
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
 * T5Gemma 2 ({@code T5Gemma2ForConditionalGeneration}, the research's v3 model) as a text encoder-decoder, in data-flow
 * order (ops/reference/T5GEMMA2-FACTS.md): config (nested encoder / decoder text configs) → weights (both name layouts;
 * tied decoder embedding, EOI embedding and LM head; vision tower never loaded) → embedding with EOI replacement →
 * bidirectional encoder with asymmetric sliding windows → per decoder layer the cross keys and values of its output
 * ({@link EncoderMemory}) → decoder whose one softmax runs over {@code [self ; cross]} keys → tied LM head.
 */
public final class T5Gemma2Family implements ModelFamily {

    public static final T5Gemma2Family INSTANCE = new T5Gemma2Family();

    private T5Gemma2Family() {
    }

    @Override
    public String name() {
        return "t5gemma2";
    }

    @Override
    public Set<String> modelTypes() {
        return Set.of("t5gemma2");
    }

    @Override
    public Set<String> architectures() {
        return Set.of("T5Gemma2ForConditionalGeneration");
    }

    @Override
    public Seq2SeqLm load(ModelSnapshot snapshot, Device device, DType dtype) {
        if (!dtype.isFloatingPoint()) throw new IllegalArgumentException("model dtype must be floating point, got " + dtype);
        return Model.load(snapshot, Config.read(snapshot.config()), device, dtype);
    }

    // ------------------------------------------------------------------------------------------ config

    /**
     * @param eoiToken    {@code <end_of_image>}: its embedding row is replaced by {@code eoi_embedding} (-1: none)
     * @param imageToken  {@code <image_soft_token>}: stands for image features a text scorer never has (-1: none)
     * @param tied        decoder embedding, EOI embedding and LM head are the encoder's (HF {@code tie_word_embeddings})
     */
    record Config(ConfigFields file, GemmaTextConfig encoder, GemmaTextConfig decoder, int eoiToken, int imageToken,
                  int decoderStart, boolean tied) {

        static Config read(ConfigFields top) {
            ConfigFields encoderFields = top.object("encoder");
            GemmaTextConfig encoder = GemmaTextConfig.read(encoderFields.object("text_config"));
            GemmaTextConfig decoder = GemmaTextConfig.read(top.object("decoder"));
            // cross keys are the decoder's k_proj of the encoder output, and the embedding is one tied table
            if (encoder.hiddenSize() != decoder.hiddenSize()) {
                throw top.unsupported("decoder.hidden_size", decoder.hiddenSize(), "equal to encoder.text_config.hidden_size "
                        + encoder.hiddenSize());
            }
            if (encoder.vocabSize() != decoder.vocabSize()) {
                throw top.unsupported("decoder.vocab_size", decoder.vocabSize(), "equal to encoder.text_config.vocab_size "
                        + encoder.vocabSize() + ": the embedding is shared");
            }
            int eoi = top.integer("eoi_token_index", encoderFields.integer("eoi_token_index", -1));
            int image = top.integer("image_token_index", encoderFields.integer("image_token_index", -1));
            // HF's decoder start is the decoder's BOS (generation falls back to bos_token_id for encoder-decoders)
            int start = top.object("decoder").integer("bos_token_id", top.integer("bos_token_id", 2));
            return new Config(top, encoder, decoder, eoi, image, start, top.bool("tie_word_embeddings", true));
        }
    }

    // ------------------------------------------------------------------------------------------ model

    static final class Model extends LoadedModelBasics<SegmentTokenizer> implements Seq2SeqLm {
        private final Config config;
        private final Embedding encoderEmbedding;
        private final Embedding decoderEmbedding;
        private final GemmaBlocks.Stack encoder;
        private final GemmaBlocks.Stack decoder;
        private final Tensor lmHead;

        /** A token table and the EOI row that replaces the scaled embedding of {@code eoi_token_index} (null: none). */
        record Embedding(Tensor table, Tensor eoi) {}

        private Model(ModelSnapshot snapshot, Config config, Device device, DType dtype, WeightLoader loader,
                      SegmentTokenizer tokenizer, Embedding encoderEmbedding, Embedding decoderEmbedding, GemmaBlocks.Stack encoder,
                      GemmaBlocks.Stack decoder, Tensor lmHead, List<Tensor> owned) {
            super(INSTANCE.name(), snapshot, tokenizer, device, dtype, loader, owned);
            this.config = config;
            this.encoderEmbedding = encoderEmbedding;
            this.decoderEmbedding = decoderEmbedding;
            this.encoder = encoder;
            this.decoder = decoder;
            this.lmHead = lmHead;
        }

        /**
         * The hub layout keeps the encoder's text model at {@code model.encoder.}, 5.17's modules one level deeper at
         * {@code model.encoder.text_model.}; HF loads either to identical logits. Vision weights
         * ({@code model.encoder.vision_tower.}, {@code multi_modal_projector.}) are never read.
         */
        static Model load(ModelSnapshot snapshot, Config c, Device device, DType dtype) {
            WeightLoader loader = new WeightLoader(snapshot.weights(), device, dtype);
            GemmaBlocks.Weights weights = new GemmaBlocks.Weights(loader);
            SegmentTokenizer tokenizer = null;
            try (TensorScope scope = TensorScope.open()) {
                String enc = loader.contains("model.encoder.text_model.embed_tokens.weight") ? "model.encoder.text_model." : "model.encoder.";
                long hidden = c.encoder().hiddenSize();
                long vocab = c.encoder().vocabSize();
                Embedding encoderEmbedding = new Embedding(required(snapshot, weights, enc + "embed_tokens.weight", "the encoder's embedding", vocab, hidden),
                        c.eoiToken() < 0 ? null : required(snapshot, weights, enc + "embed_tokens.eoi_embedding",
                                "eoi_token_index " + c.eoiToken() + "'s embedding", hidden));
                GemmaBlocks.Stack encoderStack = weights.stack(enc + "layers.", enc + "norm.weight", c.encoder(), true,
                        GemmaBlocks.NormNames.T5GEMMA2);
                GemmaBlocks.Stack decoderStack = weights.stack("model.decoder.layers.", "model.decoder.norm.weight", c.decoder(), false,
                        GemmaBlocks.NormNames.T5GEMMA2);
                // save_pretrained omits the three tied tensors; when tied, HF uses the encoder's whatever the file holds
                Embedding decoderEmbedding = c.tied() ? encoderEmbedding
                        : new Embedding(untied(weights, c, "model.decoder.embed_tokens.weight", vocab, hidden),
                                encoderEmbedding.eoi() == null ? null : untied(weights, c, "model.decoder.embed_tokens.eoi_embedding", hidden));
                Tensor lmHead = c.tied() ? encoderEmbedding.table() : untied(weights, c, "lm_head.out_proj.weight", vocab, hidden);
                tokenizer = snapshot.openTokenizer();
                List<Tensor> owned = List.copyOf(weights.all());
                owned.forEach(scope::keep);
                return new Model(snapshot, c, device, dtype, loader, tokenizer, encoderEmbedding, decoderEmbedding, encoderStack,
                        decoderStack, lmHead, owned);
            } catch (RuntimeException e) {
                if (tokenizer != null) tokenizer.close();
                loader.close();
                throw e;
            }
        }

        private static Tensor required(ModelSnapshot snapshot, GemmaBlocks.Weights weights, String name, String what, long... shape) {
            if (!weights.contains(name)) {
                throw new IllegalArgumentException(snapshot.dir() + ": weight '" + name + "' (" + what + ") not found in the safetensors");
            }
            return weights.load(name, shape);
        }

        /** A tensor HF would tie to the encoder's, which the config unties: it must then be in the file. */
        private static Tensor untied(GemmaBlocks.Weights weights, Config c, String name, long... shape) {
            if (!weights.contains(name)) {
                throw new IllegalArgumentException(c.file().file() + ": tie_word_embeddings is false but the safetensors lack '"
                        + name + "'");
            }
            return weights.load(name, shape);
        }

        @Override
        public int decoderStartToken() {
            return config.decoderStart();
        }

        /**
         * The encoder over padded rows (bidirectional: full layers see every key of their row, sliding layers
         * {@code [q−(W+1)//2+1, q+W//2]}), its final norm, then per decoder layer the cross keys and values of every
         * row: one memory per input, views of the batch's tensors.
         */
        @Override
        public List<EncoderMemory> encode(List<int[]> inputs) {
            if (inputs.isEmpty()) return List.of();
            List<ForwardRequest> rows = inputs.stream().map(ids -> new ForwardRequest(ids, ForwardRequest.consecutive(0, ids.length),
                    KvCache.empty(), AttentionMask.bidirectional(), 0, 0, false)).toList();
            List<EncoderMemory> memories = new ArrayList<>(inputs.size());
            try (TensorScope scope = TensorScope.open()) {
                BatchGeometry g = new BatchGeometry(rows, device, config.encoder().vocabSize(), encoder.windows());
                Tensor h = embed(g, encoderEmbedding, config.encoder().hiddenSize());
                Tensor output = encoder.norm().apply(encoder.forward(g, h, dtype, device, false).hidden());
                List<List<Tensor>> keys = new ArrayList<>();
                List<List<Tensor>> values = new ArrayList<>();
                for (int b = 0; b < inputs.size(); b++) {
                    keys.add(new ArrayList<>());
                    values.add(new ArrayList<>());
                }
                for (int l = 0; l < decoder.size(); l++) {
                    GemmaBlocks.KeyValues kv = decoder.layer(l).attention().crossKeyValues(output);
                    for (int b = 0; b < inputs.size(); b++) {
                        int n = inputs.get(b).length;
                        keys.get(b).add(scope.keep(Ops.narrow(Ops.narrow(kv.keys(), 0, b, 1), 2, 0, n)));
                        values.get(b).add(scope.keep(Ops.narrow(Ops.narrow(kv.values(), 0, b, 1), 2, 0, n)));
                    }
                }
                for (int b = 0; b < inputs.size(); b++) memories.add(new EncoderMemory(keys.get(b), values.get(b)));
            }
            return memories;
        }

        /** Decoder rows, each with its encoder memory and the encoder tokens it may see ({@link ForwardRequest#cross()}). */
        @Override
        public List<ForwardResult> forwardBatch(List<ForwardRequest> rows) {
            if (rows.isEmpty()) return List.of();
            for (ForwardRequest r : rows) {
                if (r.cross() == null) {
                    throw new IllegalArgumentException(snapshot.dir() + ": a T5Gemma 2 decoder row needs its encoder memory");
                }
                if (r.cross().memory().layers() != decoder.size()) {
                    throw new IllegalArgumentException("encoder memory of " + r.cross().memory().layers() + " layers, decoder " + decoder.size());
                }
                if (!r.past().isEmpty() && r.past().layers() != decoder.size()) {
                    throw new IllegalArgumentException("past cache has " + r.past().layers() + " layers, decoder " + decoder.size());
                }
                if (r.positions().isTwoD()) throw new IllegalArgumentException(snapshot.dir() + ": 2D positions for a 1D-RoPE model");
            }
            List<ForwardResult> results;
            try (TensorScope scope = TensorScope.open()) {
                BatchGeometry g = new BatchGeometry(rows, device, config.decoder().vocabSize(), decoder.windows());
                Tensor h = embed(g, decoderEmbedding, config.decoder().hiddenSize());
                GemmaBlocks.Pass pass = decoder.forward(g, h, dtype, device, true);
                Tensor hidden = g.logitRows(pass.hidden());
                Tensor logits = hidden == null ? null
                        : GemmaBlocks.logits(hidden, decoder.norm(), lmHead, config.decoder().finalLogitSoftcapping());
                results = g.results(pass.keys(), pass.values(), pass.selfProbs(), pass.crossProbs(), logits, scope);
            }
            return results;
        }

        /**
         * Scaled embeddings of {@code g}'s rows, the EOI token's rows replaced by the (unscaled) {@code eoi_embedding}.
         * An image token is refused: it stands for image features, and a text scorer passes no pixels.
         */
        private Tensor embed(BatchGeometry g, Embedding e, int hiddenSize) {
            boolean[] eoi = new boolean[g.batch() * g.width()];
            boolean anyEoi = false;
            for (int b = 0; b < g.batch(); b++) {
                int[] ids = g.row(b).ids();
                for (int i = 0; i < ids.length; i++) {
                    if (ids[i] == config.imageToken()) {
                        throw new IllegalArgumentException(config.file().file() + ": image_token_index " + config.imageToken()
                                + " appears at position " + i + " of a text input; image tokens stand for image features, "
                                + "which text scoring never passes");
                    }
                    if (ids[i] == config.eoiToken() && e.eoi() != null) {
                        eoi[b * g.width() + i] = true;
                        anyEoi = true;
                    }
                }
            }
            Tensor h = GemmaBlocks.embed(e.table(), g.ids(), hiddenSize);
            if (!anyEoi) return h;
            Tensor result;
            try (TensorScope scope = TensorScope.open()) {
                Tensor where = Ops.upload(Tensors.fromBooleans(eoi, g.batch(), g.width(), 1), device);
                result = scope.keep(Ops.where(where, Ops.to(e.eoi(), h.dtype()), h));
            }
            return result;
        }

        @Override
        public String toString() {
            return "T5Gemma2Family.Model[" + snapshot.dir() + ", " + device + ", " + dtype + "]";
        }
    }
}
