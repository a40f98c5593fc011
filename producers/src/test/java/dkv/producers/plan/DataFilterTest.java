package dkv.producers.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.Passage;
import dkv.avro.Sample;
import dkv.producers.KeyedWork;
import dkv.producers.WorkPlan;
import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.DatasetFormat;
import dkv.producers.dataset.ReaderOptions;
import dkv.producers.surrogate.GeneratorResources;
import dkv.producers.surrogate.TokenVocabulary;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** A plan's data selection: parsing, the rules on single samples, and both passes of a WorkPlan. */
class DataFilterTest {

    static Path resource(String name) {
        try {
            return Path.of(DataFilterTest.class.getResource(name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Plan plan(String data) {
        return Plan.parse("{\"experiment_id\": \"e\", \"model\": \"tiny\"" + data + ", \"conditions\": [{\"name\": \"bare\"}]}",
                "t.json", "t", Path.of("."));
    }

    static Passage passage(boolean selected, int words) {
        return Passage.newBuilder().setIsSelected(selected).setText("word ".repeat(words).strip()).build();
    }

    static Sample sample(String answer, int scoredIndex, Passage... passages) {
        return Sample.newBuilder().setId("s").setDataset("d").setQuery("q").setAnswer(answer)
                .setPassage(passages[scoredIndex].getText()).setPassages(List.of(passages))
                .setExtra(Map.of("passage_index", Integer.toString(scoredIndex))).build();
    }

    @Test
    void parsedWithEveryErrorNamingItsPath() {
        assertTrue(plan("").data().isNone());
        DataFilter f = plan(", \"data\": {\"passage_words\": [50, 300], \"max_answer_passage_chars\": 0.5, \"min_answer_tokens\": 2}").data();
        assertEquals(new DataFilter(50, 300, 0.5, 2), f);
        assertNotEquals(plan("").hash(), plan(", \"data\": {\"passage_words\": [50, 300]}").hash(), "the filter is part of the plan");
        assertEquals(plan(", \"data\": {\"passage_words\": [50, 300]}").hash(), plan(", \"data\": {\"passage_words\": [50, 300]}").hash());
        for (String[] bad : new String[][] {
                {"{\"passage_words\": [300, 50]}", "$.data.passage_words"},
                {"{\"passage_words\": 50}", "$.data.passage_words"},
                {"{\"max_answer_passage_chars\": 0}", "$.data.max_answer_passage_chars"},
                {"{\"min_answer_tokens\": -1}", "$.data.min_answer_tokens"},
                {"{\"min_words\": 5}", "$.data.min_words: unknown key"}}) {
            PlanException e = assertThrows(PlanException.class, () -> plan(", \"data\": " + bad[0]));
            assertTrue(e.getMessage().startsWith("t.json") && e.getMessage().contains(bad[1]), e.getMessage());
        }
    }

    @Test
    void theFirstSelectedPassageWithinTheBoundsIsScored() {
        DataFilter words = new DataFilter(5, 10, Double.POSITIVE_INFINITY, 0);
        Sample tooShort = sample("a", 1, passage(false, 7), passage(true, 3), passage(true, 12), passage(true, 6));
        Sample kept = words.apply(tooShort, null).orElseThrow();
        assertEquals(passage(true, 6).getText(), kept.getPassage());
        assertEquals("3", kept.getExtra().get("passage_index"));
        assertEquals(Optional.empty(), words.apply(sample("a", 0, passage(true, 3), passage(false, 6)), null), "unselected passages never qualify");
        Sample within = sample("a", 0, passage(true, 5));
        assertEquals(Optional.of(within), words.apply(within, null), "bounds are inclusive");
    }

    @Test
    void longAnswersAndShortAnswersAreDropped() {
        DataFilter ratio = new DataFilter(0, Integer.MAX_VALUE, 0.5, 0);
        Passage p = passage(true, 4);  // "word word word word": 19 characters
        assertTrue(ratio.apply(sample("x".repeat(9), 0, p), null).isPresent());
        assertTrue(ratio.apply(sample("x".repeat(10), 0, p), null).isEmpty());
        TokenVocabulary tiny = TokenVocabulary.of(resource("/tiny-model"));
        DataFilter tokens = new DataFilter(0, Integer.MAX_VALUE, Double.POSITIVE_INFINITY, 2);
        for (String answer : List.of("a", "Jane Austen", "the")) {
            assertEquals(tiny.count(answer) >= 2, tokens.apply(sample(answer, 0, p), tiny).isPresent(), answer);
        }
        assertTrue(tiny.count("a") < 2 && tiny.count("Jane Austen") >= 2, "both outcomes exercised");
        var e = assertThrows(IllegalArgumentException.class, () -> tokens.filter(GeneratorResources.none(), "t.json"));
        assertTrue(e.getMessage().contains("min_answer_tokens") && e.getMessage().contains("--model-dir"), e.getMessage());
    }

    @Test
    void bothPassesOfAWorkPlanSeeOnlyQualifyingSamples() {
        Dataset dataset = new Dataset(resource("/datasets/msmarco_v11.jsonl"), DatasetFormat.MSMARCO_JSONL, ReaderOptions.defaults());
        List<Sample> all = new ArrayList<>();
        try (var reader = dataset.open()) {
            reader.forEachRemaining(all::add);
        }
        long qualifying = all.stream().filter(s -> s.getPassage().split("\\s+").length <= 40).count();
        assertTrue(qualifying > 0 && qualifying < all.size(), "the bound splits the fixture: " + qualifying + " of " + all.size());
        for (String samples : List.of("", ", \"samples\": 10")) {
            WorkPlan work = WorkPlan.prepare(plan(samples + ", \"data\": {\"passage_words\": [1, 40]}"), dataset, GeneratorResources.none(),
                    Optional.empty(), Optional.empty(), () -> 5L);
            assertEquals(qualifying, work.planned(), samples);
            assertEquals(qualifying, work.items().map(KeyedWork::key).collectList().block().size(), samples);
            assertEquals(all.size() - qualifying, work.firstPassCounts().filtered());
            assertEquals(qualifying, work.firstPassCounts().samples());
        }
    }
}
