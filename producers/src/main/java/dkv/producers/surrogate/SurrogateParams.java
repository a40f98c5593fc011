package dkv.producers.surrogate;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A condition's generator parameters (the keys of a plan condition beyond the common ones), read with
 * typed accessors whose errors name the JSON path.
 *
 * @param path     JSON path of the condition in the plan, e.g. {@code $.conditions[3]}
 * @param template the condition's {@code surrogate} text, if any
 */
public record SurrogateParams(String path, Optional<String> template, Map<String, JsonNode> values) {

    public SurrogateParams {
        values = Collections.unmodifiableSortedMap(new TreeMap<>(values));
    }

    public int count(String name, int defaultValue) {
        JsonNode value = values.get(name);
        if (value == null) {
            return defaultValue;
        }
        if (!value.isIntegralNumber() || value.asLong() < 1 || value.asLong() > 10_000) {
            throw new IllegalArgumentException(path + "." + name + ": expected an integer from 1 to 10000, found " + value);
        }
        return value.asInt();
    }

    public Optional<String> text(String name) {
        JsonNode value = values.get(name);
        if (value == null || value.isNull()) {
            return Optional.empty();
        }
        if (!value.isTextual()) {
            throw new IllegalArgumentException(path + "." + name + ": expected a string, found " + value);
        }
        return Optional.of(value.asText());
    }

    public String requiredText(String name) {
        return text(name).orElseThrow(() -> new IllegalArgumentException(path + "." + name + ": required"));
    }

    /** Fails on any parameter the kind does not know, and on a surrogate text the kind does not use. */
    public void allowOnly(String kind, boolean usesTemplate, Set<String> known) {
        for (String name : values.keySet()) {
            if (!known.contains(name)) {
                throw new IllegalArgumentException(path + "." + name + ": unknown key for surrogate_kind '" + kind
                        + "'" + (known.isEmpty() ? " (it takes no parameters)" : " (it takes " + String.join(", ", new TreeSet<>(known)) + ")"));
            }
        }
        if (template.isPresent() && !usesTemplate) {
            throw new IllegalArgumentException(path + ".surrogate: surrogate_kind '" + kind
                    + "' makes its own text; remove 'surrogate' or use surrogate_kind 'static'");
        }
    }
}
