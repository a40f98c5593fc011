package dkv.scorers.model.bert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dkv.scorers.model.ConfigFields;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a sentence-transformers snapshot adds on top of the HF model: the module pipeline ({@code modules.json}:
 * Transformer, then Pooling, then optionally Normalize), the pooling mode ({@code 1_Pooling/config.json}, in either
 * the legacy {@code pooling_mode_*_tokens} form all-MiniLM-L6-v2 has or sentence-transformers 6's
 * {@code pooling_mode}), and the truncation length. Read as sentence-transformers reads them, so that a snapshot
 * embeds as {@code SentenceTransformer(dir).encode} would; what that would do differently is refused by name.
 *
 * @param maxTokens  inputs are cut to this many tokens, [CLS] and [SEP] included
 * @param pooling    how token vectors become one sentence vector
 * @param normalized whether modules.json lists Normalize (dkv normalises either way: see {@link dkv.scorers.model.TextEncoder})
 */
public record SentenceTransformerConfig(int maxTokens, Pooling pooling, boolean normalized) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Reads {@code dir}'s sentence-transformers files for an encoder of {@code hidden} width and {@code maxPositions}
     * positions. Without {@code modules.json} (a plain HF snapshot) it is what sentence-transformers builds then:
     * mean pooling, no Normalize.
     */
    public static SentenceTransformerConfig read(Path dir, int hidden, int maxPositions) {
        Path modulesFile = dir.resolve("modules.json");
        Pooling pooling = Pooling.MEAN;
        boolean normalized = false;
        if (Files.exists(modulesFile)) {
            List<Module> modules = modules(modulesFile);
            if (modules.size() < 2 || modules.size() > 3 || !modules.get(0).is("Transformer") || !modules.get(1).is("Pooling")
                    || (modules.size() == 3 && !modules.get(2).is("Normalize"))) {
                throw new IllegalArgumentException(modulesFile + ": modules " + modules.stream().map(Module::type).toList()
                        + " are not supported (Transformer, Pooling, optionally Normalize)");
            }
            if (!modules.get(0).path().isEmpty()) {
                throw new IllegalArgumentException(modulesFile + ": the Transformer module lives in '" + modules.get(0).path()
                        + "'; supported: the snapshot root");
            }
            pooling = Pooling.read(object(dir.resolve(modules.get(1).path()).resolve("config.json")), hidden);
            normalized = modules.size() == 3;
        }
        rejectDefaultPrompt(dir.resolve("config_sentence_transformers.json"));
        return new SentenceTransformerConfig(maxTokens(dir, maxPositions), pooling, normalized);
    }

    /** One entry of modules.json: its class (e.g. {@code sentence_transformers.models.Pooling}) and folder. */
    record Module(String type, String path) {
        /** Whether the class is {@code simpleName}, under whichever package the writing version used. */
        boolean is(String simpleName) {
            return type.equals(simpleName) || type.endsWith("." + simpleName);
        }
    }

    private static List<Module> modules(Path file) {
        JsonNode root = parse(file);
        if (!root.isArray()) throw new IllegalArgumentException(file + ": not a JSON list of modules");
        List<Module> out = new ArrayList<>();
        for (int i = 0; i < root.size(); i++) {
            ConfigFields m = new ConfigFields(file, root.get(i), "[" + i + "].");
            out.add(new Module(m.text("type"), m.text("path", "")));
        }
        return out;
    }

    /**
     * sentence-transformers' truncation length: {@code sentence_bert_config.json}'s {@code max_seq_length}; where that
     * is absent (version 6 writes it into the tokenizer config instead), {@code tokenizer_config.json}'s
     * {@code model_max_length} capped at the position table; else the position table's length.
     */
    static int maxTokens(Path dir, int maxPositions) {
        Path stFile = dir.resolve("sentence_bert_config.json");
        if (Files.exists(stFile)) {
            ConfigFields st = object(stFile);
            if (st.bool("do_lower_case", false)) {
                throw st.unsupported("do_lower_case", true, "false: lowercasing belongs in tokenizer.json's normalizer");
            }
            if (st.has("max_seq_length")) {
                int max = st.integer("max_seq_length");
                if (max < 2 || max > maxPositions) {
                    throw st.unsupported("max_seq_length", max, "2 to max_position_embeddings " + maxPositions);
                }
                return max;
            }
        }
        Path tokenizerConfig = dir.resolve("tokenizer_config.json");
        if (Files.exists(tokenizerConfig)) {
            ConfigFields t = object(tokenizerConfig);
            // HF writes 1e30 ("no limit") for tokenizers without one: a number, not always an integer
            if (t.has("model_max_length")) return (int) Math.max(2, Math.min(t.number("model_max_length"), maxPositions));
        }
        return maxPositions;
    }

    /** A default prompt would be prepended to every text by sentence-transformers; dkv embeds texts as given. */
    private static void rejectDefaultPrompt(Path file) {
        if (!Files.exists(file)) return;
        ConfigFields c = object(file);
        if (c.has("default_prompt_name")) {
            throw c.unsupported("default_prompt_name", c.text("default_prompt_name"), "null: dkv embeds texts as given");
        }
    }

    static ConfigFields object(Path file) {
        JsonNode node = parse(file);
        if (!node.isObject()) throw new IllegalArgumentException(file + ": not a JSON object");
        return new ConfigFields(file, node);
    }

    private static JsonNode parse(Path file) {
        if (!Files.exists(file)) throw new IllegalArgumentException(file + ": missing");
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage(), e);
        }
    }
}
