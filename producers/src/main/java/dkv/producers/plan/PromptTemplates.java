package dkv.producers.plan;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dkv.producers.dataset.JsonErrors;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

/**
 * Named prompt templates for generated surrogates. dkv ships its own wording of the research's five styles
 * ({@link #DEFAULTS}); a plan's {@code generation.templates} or a file replaces them. A template marks the document with {@code {document}} (without it the document follows
 * after a blank line and "Text: ", as the research wrote its prompts); it may not name {@code {query}}, which the
 * surrogates stand in for.
 */
public final class PromptTemplates {
    /** The research's five styles in dkv's words: one query each, of a given style and length. */
    public static final SequencedMap<String, String> DEFAULTS = ordered(
            "target_question", "Read the text below and write one natural question, 5 to 12 words long, that it answers. "
                    + "Reply with the question only.\n\nText: {document}",
            "keyword_query", "Read the text below and write the 3 to 6 keywords someone would type into a search engine "
                    + "to find it. Reply with the keywords only.\n\nText: {document}",
            "symptom_scenario", "Read the text below. In 4 to 10 words, describe the problem or situation of a person who "
                    + "would need it. Reply with that description only.\n\nText: {document}",
            "misconception_negative", "Read the text below. In 4 to 10 words, write a worry, doubt or common myth that it "
                    + "would settle. Reply with that worry only.\n\nText: {document}",
            "messy_realworld", "Read the text below. Write the hurried, informal query (3 to 8 words, lower case, typos "
                    + "welcome) a real person might type to find it. Reply with the query only.\n\nText: {document}");

    private static final ObjectMapper JSON = new ObjectMapper();

    private PromptTemplates() {}

    /**
     * A templates file: a JSON object {@code {"name": "text", ...}}, or JSON lines {@code {"name": ..., "text": ...}};
     * errors name the file (and line).
     */
    public static SequencedMap<String, String> load(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(file + ": templates file not found");
        }
        String content;
        try {
            content = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read templates file " + file + ": " + e.getMessage(), e);
        }
        SequencedMap<String, String> templates = new LinkedHashMap<>();
        List<String> lines = content.lines().toList();
        boolean jsonLines = lines.stream().filter(l -> !l.isBlank()).count() > 1
                && lines.stream().filter(l -> !l.isBlank()).allMatch(l -> l.strip().startsWith("{") && l.strip().endsWith("}"));
        if (!jsonLines) {
            JsonNode root = parse(file, content, "");
            if (!root.isObject()) {
                throw new IllegalArgumentException(file + ": expected a JSON object {\"name\": \"template\", ...} or JSON lines {name, text}");
            }
            root.properties().forEach(e -> {
                if (!e.getValue().isTextual()) {
                    throw new IllegalArgumentException(file + ": field '" + e.getKey() + "': expected a string");
                }
                templates.put(e.getKey(), e.getValue().asText());
            });
        } else {
            for (int i = 0; i < lines.size(); i++) {
                if (lines.get(i).isBlank()) continue;
                JsonNode line = parse(file, lines.get(i), ":" + (i + 1));
                JsonNode name = line.get("name");
                JsonNode text = line.get("text");
                if (name == null || !name.isTextual() || text == null || !text.isTextual()) {
                    throw new IllegalArgumentException(file + ":" + (i + 1) + ": expected {\"name\": string, \"text\": string}");
                }
                if (templates.put(name.asText(), text.asText()) != null) {
                    throw new IllegalArgumentException(file + ":" + (i + 1) + ": field 'name': '" + name.asText() + "' appears twice");
                }
            }
        }
        if (templates.isEmpty()) {
            throw new IllegalArgumentException(file + ": no templates");
        }
        return templates;
    }

    private static JsonNode parse(Path file, String text, String where) {
        try {
            return JSON.readTree(text);
        } catch (JacksonException e) {
            throw new IllegalArgumentException(file + where + ": not valid JSON: " + JsonErrors.brief(e));
        }
    }

    private static SequencedMap<String, String> ordered(String... nameText) {
        SequencedMap<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < nameText.length; i += 2) m.put(nameText[i], nameText[i + 1]);
        return java.util.Collections.unmodifiableSequencedMap(m);
    }

    /** Checks names and texts; the problem names {@code where} (plan path or file). */
    static void check(Map<String, String> templates, String where) {
        for (var e : templates.entrySet()) {
            String name = e.getKey();
            if (name.isBlank() || name.contains("/") || name.equals(GenerationSpec.ROUTED)) {
                throw new IllegalArgumentException(where + "." + name + ": a template name must be non-empty, contain no '/'"
                        + " and not be '" + GenerationSpec.ROUTED + "' (which picks the template most similar to the query)");
            }
            if (e.getValue().isBlank()) {
                throw new IllegalArgumentException(where + "." + name + ": empty template");
            }
            if (e.getValue().contains("{query}")) {
                throw new IllegalArgumentException(where + "." + name + ": a template may not show the generator the real"
                        + " query ({query}); mark the document with {document}");
            }
        }
    }
}
