package dkv.aggregator.offline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dkv.aggregator.state.Score;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads scores as JSON lines with {@code experiment_id, sample_id, condition, nll}; blank lines are skipped. */
public final class ScoreLines {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ScoreLines() {}

    public static List<Score> read(Path file) throws IOException {
        List<Score> scores = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int number = 0;
            while ((line = in.readLine()) != null) {
                number++;
                if (!line.isBlank()) {
                    scores.add(parse(line, file + ":" + number));
                }
            }
        }
        return scores;
    }

    static Score parse(String line, String where) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(where + ": not JSON: " + e.getOriginalMessage());
        }
        if (node == null || !node.isObject()) {
            throw new IllegalArgumentException(where + ": expected a JSON object");
        }
        JsonNode nll = node.get("nll");
        if (nll == null || !nll.isNumber()) {
            throw new IllegalArgumentException(where + ": field 'nll' missing or not a number");
        }
        return new Score(text(node, "experiment_id", where), text(node, "sample_id", where),
                text(node, "condition", where), nll.doubleValue(), 0, null);
    }

    private static String text(JsonNode node, String field, String where) {
        JsonNode value = node.get(field);
        if (value == null || !value.isTextual() || value.asText().isEmpty()) {
            throw new IllegalArgumentException(where + ": field '" + field + "' missing or not a non-empty string");
        }
        return value.asText();
    }
}
