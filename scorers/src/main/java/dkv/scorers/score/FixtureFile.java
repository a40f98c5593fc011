package dkv.scorers.score;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dkv.avro.ConditionSpec;
import dkv.avro.CrossMask;
import dkv.avro.Placement;
import dkv.avro.RopeCorrection;
import dkv.avro.Sample;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A reference fixture written by {@code ops/reference/llama_fixtures.py}: an HF snapshot directory with an
 * {@code expected.json} holding the samples, the conditions (ConditionSpec fields) and HF's results.
 */
public record FixtureFile(String name, Path dir, JsonNode json) {

    public static FixtureFile read(Path dir) {
        Path file = dir.resolve("expected.json");
        if (!Files.exists(file)) throw new IllegalArgumentException(dir + ": no expected.json (not a reference fixture)");
        try {
            return new FixtureFile(dir.getFileName().toString(), dir, new ObjectMapper().readTree(file.toFile()));
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    public Map<String, Sample> samples() {
        Map<String, Sample> out = new LinkedHashMap<>();
        for (JsonNode s : json.get("samples")) {
            out.put(s.get("id").asText(), Sample.newBuilder().setId(s.get("id").asText())
                    .setDataset(s.get("dataset").asText()).setQuery(s.get("query").asText())
                    .setPassage(s.get("passage").asText()).setAnswer(s.get("answer").asText()).build());
        }
        return out;
    }

    public List<ConditionSpec> conditions(String sampleId) {
        List<ConditionSpec> out = new ArrayList<>();
        for (JsonNode c : json.get("conditions").get(sampleId)) out.add(condition(c));
        return out;
    }

    public JsonNode expected(String sampleId, String condition) {
        for (JsonNode e : json.get("expected")) {
            if (e.get("sample_id").asText().equals(sampleId) && e.get("condition").asText().equals(condition)) return e;
        }
        throw new IllegalArgumentException(name + ": no expected record for " + sampleId + "/" + condition);
    }

    static ConditionSpec condition(JsonNode c) {
        return ConditionSpec.newBuilder()
                .setName(c.get("name").asText())
                .setPlacement(Placement.valueOf(c.get("placement").asText()))
                .setSurrogate(c.get("surrogate").isNull() ? null : c.get("surrogate").asText())
                .setSeparator(c.get("separator").asText())
                .setRopeCorrection(RopeCorrection.valueOf(c.get("rope_correction").asText()))
                .setKeepBos(c.get("keep_bos").asBoolean())
                .setDocumentTemplate(c.get("document_template").asText())
                .setQueryTemplate(c.get("query_template").asText())
                .setQueryFreeTemplate(c.get("query_free_template").asText())
                .setAnswerTemplate(c.get("answer_template").asText())
                .setQueryFree(c.get("query_free").asBoolean())
                .setCaptureAttention(c.get("capture_attention").asBoolean())
                // encoder-decoder fixtures (t5gemma2_fixtures.py) also name the family and the cross mask
                .setRequiresFamily(c.has("requires_family") && !c.get("requires_family").isNull() ? c.get("requires_family").asText() : null)
                .setCrossMask(c.has("cross_mask") ? CrossMask.valueOf(c.get("cross_mask").asText()) : CrossMask.PREFIX)
                .build();
    }
}
