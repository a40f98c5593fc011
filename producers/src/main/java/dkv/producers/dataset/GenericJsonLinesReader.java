package dkv.producers.dataset;

import com.fasterxml.jackson.databind.JsonNode;
import dkv.avro.Sample;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Optional;

/** The plain format {@code {"id": ..., "query": ..., "passage": ..., "answer": ...}}, one per line. */
final class GenericJsonLinesReader extends JsonLinesReader {
    GenericJsonLinesReader(Path path, ReaderOptions options) {
        super(path, options);
    }

    @Override
    protected Optional<Sample> toSample(JsonNode record, long line) {
        String id = scalar(record, "id", line);
        String query = text(record, "query", line);
        String passage = text(record, "passage", line);
        String answer = text(record, "answer", line).strip();
        if (answer.isEmpty() || answer.equals(MsMarcoRecords.NO_ANSWER)) {
            counts.countNoAnswer();
            return Optional.empty();
        }
        if (passage.isBlank()) {
            counts.countNoPassage();
            return Optional.empty();
        }
        return Optional.of(Sample.newBuilder()
                .setId(id)
                .setDataset(dataset)
                .setQuery(query)
                .setPassage(passage)
                .setAnswer(answer)
                .setPassages(List.of())
                .setQueryType(record.hasNonNull("query_type") ? record.get("query_type").asText() : null)
                .setExtra(new HashMap<>())
                .build());
    }

    private String text(JsonNode record, String field, long line) {
        JsonNode value = record.get(field);
        if (value == null || value.isNull()) {
            throw new BadRecordException(file, line, field, "missing");
        }
        if (!value.isTextual()) {
            throw new BadRecordException(file, line, field, "expected a string, found " + value.getNodeType());
        }
        return value.asText();
    }

    private String scalar(JsonNode record, String field, long line) {
        JsonNode value = record.get(field);
        if (value == null || value.isNull()) {
            throw new BadRecordException(file, line, field, "missing");
        }
        if (!value.isTextual() && !value.isIntegralNumber()) {
            throw new BadRecordException(file, line, field, "expected a string or integer, found " + value.getNodeType());
        }
        return value.asText();
    }
}
