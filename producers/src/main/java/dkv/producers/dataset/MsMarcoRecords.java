package dkv.producers.dataset;

import com.fasterxml.jackson.databind.JsonNode;
import dkv.avro.Candidate;
import dkv.avro.Passage;
import dkv.avro.Sample;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.ToLongFunction;

/**
 * Turns one MS MARCO record (however its file laid it out) into a Sample: the fields are {@code query},
 * {@code query_id}, {@code query_type}, {@code answers} (a list) and {@code passages}, either a list of
 * {@code {is_selected, url, passage_text}} (original v1.1/v2.1 files) or a struct of lists
 * {@code {is_selected: [...], passage_text: [...], url: [...]}} (the HF hub copy and its JSON-lines export).
 */
final class MsMarcoRecords {
    /** MS MARCO's marker for an unanswerable query: not an answer. */
    static final String NO_ANSWER = "No Answer Present.";

    private MsMarcoRecords() {}

    /** A sample, or empty when the record is valid but unusable (no answer, no acceptable passage). */
    static Optional<Sample> toSample(JsonNode record, String dataset, String fallbackId, ReaderOptions options,
            ReadCounts counts, String file, ToLongFunction<String> lineOf) {
        Fields fields = new Fields(record, file, lineOf);
        String query = fields.requiredText("query");
        String id = fields.optionalScalar("query_id").orElse(fallbackId);
        String queryType = fields.optionalScalar("query_type").orElse(null);
        Optional<String> answer = firstAnswer(fields);
        List<Passage> passages = passages(fields);
        if (answer.isEmpty()) {
            counts.countNoAnswer();
            return Optional.empty();
        }
        List<Boolean> selected = passages.stream().map(Passage::getIsSelected).toList();
        OptionalInt chosen = options.choice().choose(selected, options.seed(), id);
        if (chosen.isEmpty() || passages.get(chosen.getAsInt()).getText().isBlank()) {
            counts.countNoPassage();
            return Optional.empty();
        }
        Map<String, String> extra = new HashMap<>();
        extra.put("passage_index", Integer.toString(chosen.getAsInt()));
        return Optional.of(Sample.newBuilder()
                .setId(id)
                .setDataset(dataset)
                .setQuery(query)
                .setPassage(passages.get(chosen.getAsInt()).getText())
                .setAnswer(answer.get())
                .setPassages(passages)
                .setQueryType(queryType)
                .setExtra(extra)
                .setCandidates(options.ranking() ? candidates(passages) : List.of())
                .build());
    }

    /**
     * Every passage of the query as a ranking candidate: id {@code p<index>} (its place in the record, unique within
     * the query), relevance 1 for is_selected and 0 otherwise, the flag as label.
     */
    static List<Candidate> candidates(List<Passage> passages) {
        List<Candidate> candidates = new ArrayList<>(passages.size());
        for (int i = 0; i < passages.size(); i++) {
            boolean selected = passages.get(i).getIsSelected();
            candidates.add(new Candidate("p" + i, passages.get(i).getText(), selected ? 1.0 : 0.0, selected ? "1" : "0"));
        }
        return candidates;
    }

    private static Optional<String> firstAnswer(Fields fields) {
        JsonNode answers = fields.required("answers");
        if (!answers.isArray()) {
            throw fields.bad("answers", "expected a list of strings, found " + answers.getNodeType());
        }
        for (JsonNode answer : answers) {
            if (!answer.isTextual()) {
                throw fields.bad("answers", "expected a list of strings, found an element of type " + answer.getNodeType());
            }
            String text = answer.asText().strip();
            if (!text.isEmpty() && !text.equals(NO_ANSWER)) {
                return Optional.of(text);
            }
        }
        return Optional.empty();
    }

    private static List<Passage> passages(Fields fields) {
        JsonNode passages = fields.required("passages");
        if (passages.isArray()) {
            List<Passage> list = new ArrayList<>();
            for (JsonNode p : passages) {
                if (!p.isObject()) {
                    throw fields.bad("passages", "expected objects {is_selected, url, passage_text}, found " + p.getNodeType());
                }
                list.add(passage(fields, p.get("is_selected"), p.get("passage_text"), p.get("url")));
            }
            return list;
        }
        if (passages.isObject()) {
            JsonNode flags = passages.get("is_selected");
            JsonNode texts = passages.get("passage_text");
            JsonNode urls = passages.get("url");
            if (texts == null || !texts.isArray()) {
                throw fields.bad("passages.passage_text", "expected a list of strings");
            }
            if (flags == null || !flags.isArray() || flags.size() != texts.size()) {
                throw fields.bad("passages.is_selected", "expected a list as long as passage_text (" + texts.size() + ")");
            }
            if (urls != null && (!urls.isArray() || urls.size() != texts.size())) {
                throw fields.bad("passages.url", "expected a list as long as passage_text (" + texts.size() + ")");
            }
            List<Passage> list = new ArrayList<>();
            for (int i = 0; i < texts.size(); i++) {
                list.add(passage(fields, flags.get(i), texts.get(i), urls == null ? null : urls.get(i)));
            }
            return list;
        }
        throw fields.bad("passages", "expected a list of passages or a struct of lists, found " + passages.getNodeType());
    }

    private static Passage passage(Fields fields, JsonNode flag, JsonNode text, JsonNode url) {
        if (text == null || !text.isTextual()) {
            throw fields.bad("passages.passage_text", "expected a string");
        }
        boolean selected;
        if (flag == null || flag.isNull()) {
            selected = false;
        } else if (flag.isBoolean()) {
            selected = flag.asBoolean();
        } else if (flag.isIntegralNumber()) {
            selected = flag.asLong() != 0;
        } else {
            throw fields.bad("passages.is_selected", "expected 0/1 or a boolean, found " + flag);
        }
        return Passage.newBuilder()
                .setIsSelected(selected)
                .setText(text.asText())
                .setUrl(url == null || url.isNull() ? null : url.asText())
                .build();
    }

    /** Field access that reports problems as file:line + field. */
    private record Fields(JsonNode record, String file, ToLongFunction<String> lineOf) {
        JsonNode required(String name) {
            JsonNode value = record.get(name);
            if (value == null || value.isNull()) {
                throw bad(name, "missing");
            }
            return value;
        }

        String requiredText(String name) {
            JsonNode value = required(name);
            if (!value.isTextual()) {
                throw bad(name, "expected a string, found " + value.getNodeType());
            }
            return value.asText();
        }

        Optional<String> optionalScalar(String name) {
            JsonNode value = record.get(name);
            if (value == null || value.isNull()) {
                return Optional.empty();
            }
            if (!value.isValueNode()) {
                throw bad(name, "expected a string or number, found " + value.getNodeType());
            }
            return Optional.of(value.asText());
        }

        BadRecordException bad(String field, String problem) {
            String top = field.contains(".") ? field.substring(0, field.indexOf('.')) : field;
            return new BadRecordException(file, lineOf.applyAsLong(top), field, problem);
        }
    }
}
