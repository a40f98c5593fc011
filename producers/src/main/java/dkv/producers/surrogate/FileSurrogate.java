package dkv.producers.surrogate;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dkv.producers.dataset.JsonErrors;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * A surrogate written elsewhere (an LLM's paraphrase or generated query), looked up by sample id. The
 * file is JSON lines {@code {"id": ..., "surrogate": ...}} (the text field is named by {@code field}) or
 * TSV {@code id<TAB>text}; it comes from the condition's {@code file} (relative to the plan) or, when the
 * plan leaves the slot open, from {@code --surrogates FILE}. A sample missing from the file is an error:
 * a silent fallback would mix two conditions under one name.
 */
public final class FileSurrogate implements SurrogateGenerator {
    public static final SurrogateKind PARAPHRASE = kind("paraphrase");
    /** {@code generated} without a template: the file form of {@link GeneratedSurrogate#KIND}. */
    static final SurrogateKind GENERATED_FILE = kind("generated");

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final Map<String, String> byId;

    private FileSurrogate(Path file, Map<String, String> byId) {
        this.file = file;
        this.byId = byId;
    }

    private static SurrogateKind kind(String name) {
        return SurrogateKind.of(name, Set.of("file", "field"), false, false, (params, resources) -> {
            Path file = params.text("file").map(resources::resolve).or(resources::surrogateFile)
                    .orElseThrow(() -> new IllegalArgumentException(params.path() + ": surrogate_kind '" + name
                            + "' needs a file: set 'file' in the plan or pass --surrogates FILE"));
            return load(file, params.text("field").orElse("surrogate"));
        });
    }

    static FileSurrogate load(Path file, String field) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("surrogate file not found: " + file);
        }
        Map<String, String> byId = new HashMap<>();
        try (BufferedReader lines = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            long number = 0;
            while ((line = lines.readLine()) != null) {
                number++;
                if (line.isBlank()) {
                    continue;
                }
                if (line.stripLeading().startsWith("{")) {
                    JsonNode record = parse(file, number, line);
                    JsonNode id = record.get("id");
                    JsonNode text = record.get(field);
                    if (id == null || !id.isValueNode()) {
                        throw new IllegalArgumentException(file + ":" + number + ": field 'id': missing");
                    }
                    if (text == null || !text.isTextual()) {
                        throw new IllegalArgumentException(file + ":" + number + ": field '" + field + "': expected a string");
                    }
                    byId.put(id.asText(), text.asText());
                } else {
                    int tab = line.indexOf('\t');
                    if (tab < 0) {
                        throw new IllegalArgumentException(file + ":" + number + ": expected a JSON object or 'id<TAB>text'");
                    }
                    byId.put(line.substring(0, tab), line.substring(tab + 1));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read surrogate file " + file + ": " + e.getMessage(), e);
        }
        return new FileSurrogate(file, byId);
    }

    private static JsonNode parse(Path file, long number, String line) {
        try {
            return JSON.readTree(line);
        } catch (JacksonException e) {
            throw new IllegalArgumentException(file + ":" + number + ": not valid JSON: " + JsonErrors.brief(e));
        }
    }

    @Override
    public String generate(SurrogateInput input) {
        String text = byId.get(input.sample().getId());
        if (text == null) {
            throw new IllegalStateException(file + ": no surrogate for sample '" + input.sample().getId() + "'");
        }
        return text;
    }
}
