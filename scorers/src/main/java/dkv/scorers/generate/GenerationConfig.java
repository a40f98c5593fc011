package dkv.scorers.generate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dkv.scorers.model.ConfigFields;
import dkv.scorers.model.ModelSnapshot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * What a snapshot says about generating: the end-of-sequence ids ({@code eos_token_id} of
 * {@code generation_config.json}, else of {@code config.json} or its {@code text_config}; one id or a list) and the
 * context length ({@code max_position_embeddings}, top level or {@code text_config}; 0 when neither names one).
 */
public record GenerationConfig(Set<Integer> eos, int context) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public GenerationConfig {
        eos = Set.copyOf(eos);
        if (context < 0) throw new IllegalArgumentException("context " + context);
    }

    public static GenerationConfig of(ModelSnapshot snapshot) {
        ConfigFields config = snapshot.config();
        ConfigFields text = config.has("text_config") ? config.object("text_config") : null;
        Set<Integer> eos = null;
        Path generation = snapshot.dir().resolve("generation_config.json");
        if (Files.exists(generation)) {
            JsonNode node;
            try {
                node = JSON.readTree(Files.readString(generation));
            } catch (IOException e) {
                throw new IllegalArgumentException(generation + ": cannot read: " + e.getMessage(), e);
            }
            if (node == null || !node.isObject()) throw new IllegalArgumentException(generation + ": not a JSON object");
            eos = ids(generation, node.get("eos_token_id"));
        }
        if (eos == null) eos = ids(config.file(), config.node().get("eos_token_id"));
        if (eos == null && text != null) eos = ids(config.file(), text.node().get("eos_token_id"));
        int context = config.integer("max_position_embeddings", text == null ? 0 : text.integer("max_position_embeddings", 0));
        return new GenerationConfig(eos == null ? Set.of() : eos, context);
    }

    /** One id or a list of ids; null when absent or null. */
    private static Set<Integer> ids(Path file, JsonNode node) {
        if (node == null || node.isNull()) return null;
        Set<Integer> out = new LinkedHashSet<>();
        if (node.isIntegralNumber()) {
            out.add(node.intValue());
        } else if (node.isArray()) {
            for (JsonNode n : node) {
                if (!n.isIntegralNumber()) throw new IllegalArgumentException(file + ": eos_token_id must hold integers, got " + node);
                out.add(n.intValue());
            }
        } else {
            throw new IllegalArgumentException(file + ": eos_token_id must be an integer or a list of integers, got " + node);
        }
        return out;
    }
}
