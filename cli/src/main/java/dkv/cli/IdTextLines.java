package dkv.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The input of {@code dkv embed} and {@code dkv generate}: one JSON object {@code {"id": ..., "<field>": "..."}} per
 * line (blank lines skipped; the field is {@code text} or {@code prompt}), the id a string or an integer and unique in
 * the file. A bad line is an error naming {@code file:line}. Read in chunks, so a large file is never held whole.
 */
final class IdTextLines {

    /** One text and the id it is written back with (kept as read: a string stays a string, a number a number). */
    record Entry(JsonNode id, String text) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final String field;

    IdTextLines(Path file, String field) {
        this.file = file;
        this.field = field;
    }

    /** Reads every line, failing on the first bad one; returns the number of texts. */
    long validate() {
        long[] count = {0};
        forEachChunk(1024, chunk -> count[0] += chunk.size());
        return count[0];
    }

    /** Hands the entries to {@code consumer} in file order, {@code size} at a time (the last chunk may be shorter). */
    void forEachChunk(int size, Consumer<List<Entry>> consumer) {
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(file + ": no such file");
        Map<String, Long> firstLine = new HashMap<>();
        List<Entry> chunk = new ArrayList<>(size);
        try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            long number = 0;
            for (String line; (line = reader.readLine()) != null; ) {
                number++;
                if (line.isBlank()) continue;
                Entry e = parse(line, number);
                Long earlier = firstLine.putIfAbsent(e.id().asText(), number);
                if (earlier != null) throw bad(number, "id " + e.id() + " repeats line " + earlier);
                chunk.add(e);
                if (chunk.size() == size) {
                    consumer.accept(List.copyOf(chunk));
                    chunk.clear();
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (!chunk.isEmpty()) consumer.accept(List.copyOf(chunk));
    }

    private Entry parse(String line, long number) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw bad(number, "not JSON: " + e.getOriginalMessage());
        }
        if (node == null || !node.isObject()) throw bad(number, "not a JSON object");
        JsonNode id = node.get("id");
        if (id == null || !(id.isTextual() || id.isIntegralNumber())) throw bad(number, "field 'id' must be a string or an integer");
        JsonNode text = node.get(field);
        if (text == null || !text.isTextual()) throw bad(number, "field '" + field + "' must be a string");
        return new Entry(id, text.asText());
    }

    private IllegalArgumentException bad(long line, String problem) {
        return new IllegalArgumentException(file + ":" + line + ": " + problem);
    }
}
