package dkv.producers.surrogate;

import static dkv.producers.surrogate.SurrogateGeneratorsTest.expander;
import static dkv.producers.surrogate.SurrogateGeneratorsTest.samples;
import static dkv.producers.surrogate.SurrogateGeneratorsTest.surrogate;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.Sample;
import dkv.producers.plan.PlanExpander;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The research's v3 (T5Gemma 2) surrogate kinds and parameters (RESEARCH-FACTS.md "v3 kinds"). */
class V3SurrogatesTest {

    @Test
    void frequentWordsCountPlainlyWithoutShortOrStopWords() {
        assertEquals(List.of("cat", "ran", "sat"), FrequentWordsSurrogate.top("The cat sat. The cat ran. A dog ran, and the cat ran far.", 3));
        assertEquals(List.of("cat"), FrequentWordsSurrogate.top("ox ox ox cat", 5), "words of two characters are left out");
    }

    @Test
    void v3DocumentKeywordsTemplateAndTopKeywordRepeated() {
        PlanExpander e = expander("""
                {"name": "kw", "placement": "ENCODER_COENCODE_MASKED", "surrogate_kind": "frequent_words", "k": 3},
                {"name": "what", "placement": "ENCODER_COENCODE_MASKED", "surrogate_kind": "frequent_words", "surrogate": "What is {keyword}?", "k": 1},
                {"name": "x3", "placement": "ENCODER_COENCODE_MASKED", "surrogate_kind": "frequent_words", "surrogate": "{keyword} {keyword} {keyword}", "k": 1}""");
        Sample austen = samples().get(1);
        assertEquals("novel pride prejudice", surrogate(e, austen, "kw"), "'novel' twice, then first appearance; 1813 has no letter");
        assertEquals("What is novel?", surrogate(e, austen, "what"));
        assertEquals("novel novel novel", surrogate(e, austen, "x3"));
    }

    @Test
    void queryKeywordsReversed() {
        PlanExpander e = expander("{\"name\": \"para\", \"placement\": \"ENCODER_COENCODE_MASKED\", \"surrogate_kind\": \"query_keywords_reversed\"}");
        assertEquals("prejudice pride wrote", surrogate(e, samples().get(1), "para"));
        assertEquals("rba", surrogate(e, samples().get(0), "para"));
    }

    @Test
    void leadCutToMaxWordsAndFirstWordsOfAnotherPassage() {
        PlanExpander e = expander("""
                {"name": "lead", "placement": "ENCODER_COENCODE_MASKED", "surrogate_kind": "lead", "max_words": 5},
                {"name": "lead_short", "placement": "ENCODER_COENCODE_MASKED", "surrogate_kind": "lead", "max_words": 25},
                {"name": "random", "placement": "ENCODER_COENCODE_MASKED", "surrogate_kind": "random_passage", "n": 3}""");
        Sample austen = samples().get(1);
        assertEquals("Pride and Prejudice is an", surrogate(e, austen, "lead"));
        assertEquals("Pride and Prejudice is an 1813 novel of manners written by Jane Austen.", surrogate(e, austen, "lead_short"));
        List<String> passages = samples().stream().map(Sample::getPassage).toList();
        for (Sample s : samples()) {
            String words = surrogate(e, s, "random");
            assertEquals(3, words.split(" ").length, words);
            assertTrue(passages.stream().anyMatch(p -> !p.equals(s.getPassage()) && p.startsWith(words)), words);
        }
    }
}
