package dkv.scorers.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Typed access to one JSON object of a snapshot's {@code config.json} (or a nested object in it), with errors that
 * name the file and the field's full path. Every family parses its own typed config through this, so that a field
 * it needs is never silently defaulted by another family's parser.
 *
 * @param file   the config file, for messages
 * @param node   the object read
 * @param prefix the path of {@code node} inside the file ("" for the top level, else ending in '.')
 */
public record ConfigFields(Path file, JsonNode node, String prefix) {

    public ConfigFields(Path file, JsonNode node) {
        this(file, node, "");
    }

    public boolean has(String name) {
        JsonNode v = node.get(name);
        return v != null && !v.isNull();
    }

    public JsonNode required(String name) {
        if (!has(name)) throw new IllegalArgumentException(file + ": missing field " + prefix + name);
        return node.get(name);
    }

    /** A nested object, itself read through ConfigFields. */
    public ConfigFields object(String name) {
        JsonNode v = required(name);
        if (!v.isObject()) throw new IllegalArgumentException(file + ": field " + prefix + name + " is not an object: " + v);
        return new ConfigFields(file, v, prefix + name + ".");
    }

    public int integer(String name) {
        JsonNode v = required(name);
        if (!v.canConvertToExactIntegral() || !v.canConvertToInt()) {
            throw new IllegalArgumentException(file + ": field " + prefix + name + " is not an integer: " + v);
        }
        return v.asInt();
    }

    public int integer(String name, int fallback) {
        return has(name) ? integer(name) : fallback;
    }

    public double number(String name) {
        JsonNode v = required(name);
        if (!v.isNumber()) throw new IllegalArgumentException(file + ": field " + prefix + name + " is not a number: " + v);
        return v.asDouble();
    }

    public double number(String name, double fallback) {
        return has(name) ? number(name) : fallback;
    }

    public boolean bool(String name, boolean fallback) {
        if (!has(name)) return fallback;
        JsonNode v = node.get(name);
        if (!v.isBoolean()) throw new IllegalArgumentException(file + ": field " + prefix + name + " is not a boolean: " + v);
        return v.asBoolean();
    }

    public String text(String name, String fallback) {
        return has(name) ? node.get(name).asText() : fallback;
    }

    public String text(String name) {
        return required(name).asText();
    }

    /** A list of strings; absent is empty. */
    public List<String> texts(String name) {
        if (!has(name)) return List.of();
        JsonNode v = node.get(name);
        if (!v.isArray()) throw new IllegalArgumentException(file + ": field " + prefix + name + " is not a list: " + v);
        List<String> out = new ArrayList<>();
        v.forEach(e -> out.add(e.asText()));
        return out;
    }

    /** The error for a value this family cannot run, naming the file and field. */
    public IllegalArgumentException unsupported(String name, Object value, String supported) {
        return new IllegalArgumentException(file + ": " + prefix + name + " " + value + " is not supported (" + supported + ")");
    }
}
