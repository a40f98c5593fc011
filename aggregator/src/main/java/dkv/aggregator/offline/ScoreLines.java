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

/**
 * Reads scores as JSON lines with {@code experiment_id, sample_id, condition, nll}; blank lines are skipped. A
 * ranking score also has {@code candidate_id} and {@code relevance}, and optionally {@code query_id} (default: the
 * sample id); with {@code ranking} every line must have them. An optional {@code query_similarity} (number or
 * null) is what derived conditions routing by similarity (routed, rank_average) read.
 */
public final class ScoreLines {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ScoreLines() {}

    public static List<Score> read(Path file) throws IOException {
        return read(file, false);
    }

    public static List<Score> read(Path file, boolean ranking) throws IOException {
        List<Score> scores = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int number = 0;
            while ((line = in.readLine()) != null) {
                number++;
                if (!line.isBlank()) {
                    scores.add(parse(line, file + ":" + number, ranking));
                }
            }
        }
        return scores;
    }

    static Score parse(String line, String where, boolean ranking) {
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
        String experiment = text(node, "experiment_id", where);
        String sample = text(node, "sample_id", where);
        String condition = text(node, "condition", where);
        Double similarity = similarity(node, where);
        if (!ranking && !node.hasNonNull("candidate_id")) {
            return new Score(experiment, sample, condition, nll.doubleValue(), 0, null, null, similarity);
        }
        JsonNode relevance = node.get("relevance");
        if (relevance == null || !relevance.isNumber() || !Double.isFinite(relevance.doubleValue())) {
            throw new IllegalArgumentException(where + ": field 'relevance' missing or not a finite number"
                    + " (a ranking score needs candidate_id and relevance)");
        }
        String query = node.hasNonNull("query_id") ? text(node, "query_id", where) : sample;
        return new Score(experiment, query, condition, nll.doubleValue(), 0, null,
                new Score.Candidate(text(node, "candidate_id", where), relevance.doubleValue()), similarity);
    }

    private static Double similarity(JsonNode node, String where) {
        JsonNode value = node.get("query_similarity");
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isNumber()) {
            throw new IllegalArgumentException(where + ": field 'query_similarity' is not a number or null");
        }
        return value.doubleValue();
    }

    private static String text(JsonNode node, String field, String where) {
        JsonNode value = node.get(field);
        if (value == null || !value.isTextual() || value.asText().isEmpty()) {
            throw new IllegalArgumentException(where + ": field '" + field + "' missing or not a non-empty string");
        }
        return value.asText();
    }
}
