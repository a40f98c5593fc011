package dkv.scorers.worker.generator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.GenerationSettings;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The service's own text handling, without Kafka: prompt rendering, post-processing, per-prompt seeds, the stand-ins. */
class GenerateBatchFunctionTest {

    @Test
    void aTemplatePlacesTheDocumentAtItsMarkerOrAfterItAsTheResearchDid() {
        assertEquals("Ask about: Rust is iron oxide.", GenerateBatchFunction.render("Ask about: {document}", "Rust is iron oxide."));
        assertEquals("Write one search query.\n\nText: Rust is iron oxide.",
                GenerateBatchFunction.render("Write one search query.", "Rust is iron oxide."));
    }

    @Test
    void postProcessingKeepsTheFirstLineAndStripsQuotesUnlessTheSettingsSayOtherwise() {
        GenerationSettings research = GenerationSettings.newBuilder().build();
        assertEquals("what causes rust", PostProcessing.apply("\n  \"what causes rust\"\nSure! Here is another", research));
        assertEquals("it’s “quoted” inside", PostProcessing.apply("“it’s “quoted” inside”", research));
        assertEquals("", PostProcessing.apply(" \n \"\" \n", research));
        GenerationSettings raw = GenerationSettings.newBuilder().setFirstLine(false).setStripQuotes(false).build();
        assertEquals("\"a\"\nb", PostProcessing.apply(" \"a\"\nb \n", raw));
    }

    @Test
    void eachPromptHasASeedOfItsOwnThatARestartReproduces() {
        long a = GenerateBatchFunction.promptSeed(42, "exp", "s1", "target_question");
        assertEquals(a, GenerateBatchFunction.promptSeed(42, "exp", "s1", "target_question"));
        assertNotEquals(a, GenerateBatchFunction.promptSeed(42, "exp", "s1", "keyword_query"));
        assertNotEquals(a, GenerateBatchFunction.promptSeed(42, "exp", "s2", "target_question"));
        assertNotEquals(a, GenerateBatchFunction.promptSeed(43, "exp", "s1", "target_question"));
    }

    @Test
    void theLexicalStandInScoresSharedWordsAndSaysWhatItIs() {
        List<float[]> v = new LexicalEmbedder().embed(List.of("what causes rust", "rust causes", "banana bread recipe"));
        assertEquals(1.0, SurrogateEmbedder.cosine(v.get(0), v.get(0)), 1e-6);
        assertTrue(SurrogateEmbedder.cosine(v.get(0), v.get(1)) > 0.5);
        assertEquals(0.0, SurrogateEmbedder.cosine(v.get(0), v.get(2)), 1e-6);
        assertTrue(new ExtractiveStandIn("m").describe().contains("not generated text"));
        assertEquals(List.of("rust", "iron", "oxide"), ExtractiveStandIn.frequentWords("Rust: iron oxide. Rust is the oxide of iron, rust.")
                .subList(0, 3));
    }
}
