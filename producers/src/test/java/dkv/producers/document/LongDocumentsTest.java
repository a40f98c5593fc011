package dkv.producers.document;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.avro.ConditionSpec;
import dkv.avro.Sample;
import dkv.producers.KeyedWork;
import dkv.producers.WorkPlan;
import dkv.producers.corpus.Corpus;
import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.ReaderOptions;
import dkv.producers.plan.Plan;
import dkv.producers.surrogate.GeneratorResources;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Documents of a target token length (v3 exp 03) built by the producer with the model's tokenizer.json. */
class LongDocumentsTest {
    static final String[] WORDS = ("the bank of australia is the central bank and it sets the cash rate while the "
            + "tower stands in paris near the river and photosynthesis turns light into sugar in green plants").split(" ");

    static Path tinyModel() {
        try {
            return Path.of(LongDocumentsTest.class.getResource("/tiny-model").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** 40 MS MARCO v1.1 records of 10 passages each (the third selected), about 60 words per passage. */
    static Path dataset(Path dir) throws IOException {
        ObjectMapper json = new ObjectMapper();
        SplittableRandom random = new SplittableRandom(3);
        List<String> lines = new ArrayList<>();
        for (int q = 0; q < 40; q++) {
            ObjectNode record = json.createObjectNode().put("query", "query " + q).put("query_id", 100 + q);
            record.putArray("answers").add("answer " + q);
            ArrayNode passages = record.putArray("passages");
            for (int p = 0; p < 10; p++) {
                StringBuilder text = new StringBuilder("q" + q + "p" + p);
                for (int w = 0; w < 60; w++) {
                    text.append(' ').append(WORDS[random.nextInt(WORDS.length)]);
                }
                passages.addObject().put("is_selected", p == 2 ? 1 : 0).put("url", "u").put("passage_text", text + ".");
            }
            lines.add(json.writeValueAsString(record));
        }
        return Files.write(dir.resolve("long.jsonl"), lines);
    }

    @Test
    void theV3Exp03PresetGetsDocumentsOfEveryTargetLength(@TempDir Path dir) throws IOException {
        Plan plan = Plan.preset("v3-exp03");
        WorkPlan work = WorkPlan.prepare(plan, Dataset.of(dataset(dir), Optional.empty(), ReaderOptions.defaults()),
                new GeneratorResources(Optional.of(tinyModel()), dir, Optional.empty()), Optional.empty(), Optional.of(3),
                () -> 0L);
        DocumentTokenizer tokens = DocumentTokenizer.of(tinyModel());
        for (KeyedWork item : work.items().toIterable()) {
            Sample sample = item.item().getSample();
            String previous = "";
            for (ConditionSpec c : item.item().getConditions()) {
                int target = plan.condition(c.getName()).orElseThrow().documentTokens().orElseThrow();
                String document = c.getDocumentTemplate();
                assertEquals(target, tokens.count(document), sample.getId() + "/" + c.getName());
                // the selected passage (index 2) first, then the non-selected ones in their order
                assertTrue(document.startsWith(sample.getPassage() + LongDocuments.SEPARATOR
                        + sample.getPassages().get(0).getText().substring(0, 6)), document);
                assertTrue(document.startsWith(previous), "a shorter document is a prefix of a longer one");
                if (c.getName().startsWith("static_fact")) {
                    previous = document;
                }
            }
        }
    }

    @Test
    void passagesOfOtherSamplesFillWhatTheSamplesOwnDoNot(@TempDir Path dir) throws IOException {
        Dataset data = Dataset.of(dataset(dir), Optional.empty(), ReaderOptions.defaults());
        Corpus corpus = dkv.producers.corpus.CorpusScan.run(data, 42, Optional.empty()).corpus();
        Sample sample;
        try (var reader = data.open()) {
            sample = reader.next();
        }
        LongDocuments documents = new LongDocuments(DocumentTokenizer.of(tinyModel()));
        int own = documents.count(String.join(LongDocuments.SEPARATOR, sample.getPassages().stream()
                .map(p -> p.getText()).toList()));
        String source = documents.source(sample, 3 * own, corpus.donors(), new SplittableRandom(1));
        assertTrue(documents.count(source) >= 3 * own);
        assertTrue(source.contains("q1") || source.contains("q2") || source.contains("q3") || source.contains("q4"),
                "other samples' passages");
        String cut = documents.cut(source, 3 * own);
        assertEquals(3 * own, documents.count(cut));

        IllegalStateException tooLong = assertThrows(IllegalStateException.class,
                () -> documents.source(sample, 1_000_000, corpus.donors(), new SplittableRandom(1)));
        assertTrue(tooLong.getMessage().startsWith("sample '100': its passages and 39 other samples' hold "),
                tooLong.getMessage());
    }

    @Test
    void aTemplateFramesTheLongDocument(@TempDir Path dir) throws IOException {
        Plan plan = Plan.parse("{\"model\": \"m\", \"conditions\": [{\"name\": \"bare\", \"document_tokens\": 50,"
                + " \"document_template\": \"Document:\\n{passage}\"}]}", "p.json", "p", dir);
        WorkPlan work = WorkPlan.prepare(plan, Dataset.of(dataset(dir), Optional.empty(), ReaderOptions.defaults()),
                new GeneratorResources(Optional.of(tinyModel()), dir, Optional.empty()), Optional.empty(), Optional.of(1),
                () -> 0L);
        ConditionSpec spec = work.items().blockFirst().item().getConditions().getFirst();
        assertTrue(spec.getDocumentTemplate().startsWith("Document:\nq0p2 "), spec.getDocumentTemplate());
        assertEquals(50, DocumentTokenizer.of(tinyModel()).count(spec.getDocumentTemplate().substring("Document:\n".length())));
    }
}
