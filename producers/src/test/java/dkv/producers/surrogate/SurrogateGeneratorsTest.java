package dkv.producers.surrogate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.ConditionSpec;
import dkv.avro.Sample;
import dkv.producers.corpus.CorpusScan;
import dkv.producers.corpus.DocumentFrequencies;
import dkv.producers.dataset.Dataset;
import dkv.producers.dataset.DatasetFormat;
import dkv.producers.dataset.ReaderOptions;
import dkv.producers.plan.Plan;
import dkv.producers.plan.PlanException;
import dkv.producers.plan.PlanExpander;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each generator's content and determinism, exercised through the plan expander as produce uses them. */
class SurrogateGeneratorsTest {
    static Path resource(String name) {
        try {
            return Path.of(SurrogateGeneratorsTest.class.getResource(name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static final Dataset DATASET = new Dataset(resource("/datasets/msmarco_v11.jsonl"), DatasetFormat.MSMARCO_JSONL,
            ReaderOptions.defaults());

    static List<Sample> samples() {
        List<Sample> all = new ArrayList<>();
        try (var reader = DATASET.open()) {
            reader.forEachRemaining(all::add);
        }
        return all;
    }

    static PlanExpander expander(String conditions, long seed, GeneratorResources resources) {
        String json = "{\"seed\": " + seed + ", \"conditions\": [{\"name\": \"bare\"}, " + conditions + "]}";
        Plan plan = Plan.parse(json, "test-plan", "test", Path.of("."));
        return plan.expander(resources, CorpusScan.run(DATASET, seed, Optional.empty()).corpus());
    }

    static PlanExpander expander(String conditions) {
        return expander(conditions, 42, GeneratorResources.none());
    }

    static String surrogate(PlanExpander expander, Sample sample, String condition) {
        return expander.conditionsFor(sample).stream().filter(c -> c.getName().equals(condition)).findFirst()
                .map(ConditionSpec::getSurrogate).orElseThrow();
    }

    @Test
    void oracleIsTheQuery() {
        PlanExpander e = expander("{\"name\": \"o\", \"placement\": \"PREFIX_TRUNCATED\", \"surrogate_kind\": \"oracle\"}");
        for (Sample s : samples()) {
            assertEquals(s.getQuery(), surrogate(e, s, "o"));
        }
    }

    @Test
    void staticFillsPlaceholdersAndScoreFormatTextIsStatic() {
        PlanExpander e = expander("""
                {"name": "s", "placement": "SUFFIX", "surrogate": "About: {query}"},
                {"name": "q", "placement": "SUFFIX", "surrogate": "{query}"},
                {"name": "p", "placement": "PREFIX_FULL", "surrogate_kind": "static", "surrogate": "What is this document about?"}""");
        Sample s = samples().getFirst();
        List<ConditionSpec> specs = e.conditionsFor(s);
        assertEquals("About: what is rba", specs.get(1).getSurrogate());
        assertEquals("static", specs.get(1).getSurrogateKind());
        assertEquals("what is rba", specs.get(2).getSurrogate());
        assertEquals("oracle", specs.get(2).getSurrogateKind());
        assertEquals("What is this document about?", specs.get(3).getSurrogate());
        assertEquals(null, specs.getFirst().getSurrogate());
    }

    /** TF-IDF against a corpus worked by hand: idf = ln((1+N)/(1+df)) + 1, N = 3. */
    @Test
    void keywordsRankByTfIdf() {
        DocumentFrequencies df = new DocumentFrequencies();
        df.add("apple banana apple cherry");
        df.add("banana cherry");
        df.add("the cherry date 2024");
        assertEquals(Math.log(4.0 / 2.0) + 1, df.idf("apple"), 1e-12);
        assertEquals(Math.log(4.0 / 3.0) + 1, df.idf("banana"), 1e-12);
        assertEquals(1.0, df.idf("cherry"), 1e-12);
        assertEquals(0, df.frequency("the"), "stop words are not terms");
        assertEquals(0, df.frequency("2024"), "numbers are not terms");
        // apple 2*1.693 > banana 1.288 > cherry 1.0
        assertEquals(List.of("apple", "banana", "cherry"), Keywords.top("apple banana apple cherry", df, 5));
        assertEquals(List.of("apple"), Keywords.top("apple banana apple cherry", df, 1));
        // equal scores keep document order
        assertEquals(List.of("date", "apple"), Keywords.top("Date, apple!", df, 2));
    }

    @Test
    void keywordsAndTemplateFromTheDocument() {
        PlanExpander e = expander("""
                {"name": "kw", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "keywords", "k": 3},
                {"name": "tpl", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "template"},
                {"name": "tpl2", "placement": "SUFFIX", "surrogate_kind": "template", "surrogate": "Tell me about {keywords}.", "k": 2}""");
        Sample photo = samples().get(2);
        String kw = surrogate(e, photo, "kw");
        assertEquals(3, kw.split(" ").length);
        // "photosynthesis" occurs twice and only in this passage: the top keyword
        assertTrue(kw.startsWith("photosynthesis "), kw);
        for (String word : kw.split(" ")) {
            assertTrue(photo.getPassage().toLowerCase().contains(word), word);
        }
        assertEquals("What is photosynthesis?", surrogate(e, photo, "tpl"));
        assertEquals("Tell me about " + String.join(" ", Arrays.copyOf(kw.split(" "), 2)) + ".", surrogate(e, photo, "tpl2"));
    }

    @Test
    void unknownTemplatePlaceholderIsRejected() {
        PlanException x = assertThrows(PlanException.class, () -> expander(
                "{\"name\": \"t\", \"placement\": \"SUFFIX\", \"surrogate_kind\": \"template\", \"surrogate\": \"What is {keywrd}?\"}"));
        assertTrue(x.getMessage().contains("$.conditions[1].surrogate: unknown placeholder {keywrd}"), x.getMessage());
    }

    @Test
    void randomTokensComeFromTheModelVocabulary() {
        GeneratorResources model = new GeneratorResources(Optional.of(resource("/tiny-model")), Path.of("."), Optional.empty());
        TokenVocabulary vocabulary = model.vocabulary("test");
        // 300 tokens less the 3 special ones and the byte-level fragments that are not text on their own
        assertTrue(vocabulary.size() > 100 && vocabulary.size() < 297, "size " + vocabulary.size());
        for (int i = 0; i < vocabulary.size(); i++) {
            assertTrue(vocabulary.id(i) > 2, "special tokens are excluded");
            String text = vocabulary.decode(new long[] {vocabulary.id(i)});
            assertTrue(TokenVocabulary.isClean(text), "token " + vocabulary.id(i) + " decodes to " + text);
        }
        PlanExpander e = expander("{\"name\": \"rt\", \"placement\": \"PREFIX_TRUNCATED\", \"surrogate_kind\": \"random_tokens\", \"n\": 6}",
                42, model);
        List<Sample> samples = samples();
        String first = surrogate(e, samples.getFirst(), "rt");
        assertEquals(first, surrogate(expander("{\"name\": \"rt\", \"placement\": \"PREFIX_TRUNCATED\", \"surrogate_kind\": \"random_tokens\", \"n\": 6}",
                42, model), samples.getFirst(), "rt"), "same seed, same tokens");
        assertNotEquals(first, surrogate(e, samples.get(1), "rt"), "another sample draws other tokens");
        assertNotEquals(first, surrogate(expander("{\"name\": \"rt\", \"placement\": \"PREFIX_TRUNCATED\", \"surrogate_kind\": \"random_tokens\", \"n\": 6}",
                43, model), samples.getFirst(), "rt"), "another seed draws other tokens");
        assertTrue(TokenVocabulary.isClean(first) && !first.contains("<s>") && !first.contains("</s>") && !first.contains("<unk>"), first);
    }

    @Test
    void randomTokensWithoutModelDirFailsClearly() {
        PlanException x = assertThrows(PlanException.class,
                () -> expander("{\"name\": \"rt\", \"placement\": \"SUFFIX\", \"surrogate_kind\": \"random_tokens\"}"));
        assertTrue(x.getMessage().contains("--model-dir"), x.getMessage());
    }

    @Test
    void shuffledKeepsTheWordsOfItsSource() {
        PlanExpander e = expander("""
                {"name": "kw", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "keywords", "k": 8},
                {"name": "kw_shuf", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "shuffled", "of": "kw"}""");
        int reordered = 0;
        for (Sample s : samples()) {
            String source = surrogate(e, s, "kw");
            String shuffled = surrogate(e, s, "kw_shuf");
            assertEquals(sortedWords(source), sortedWords(shuffled));
            assertEquals(shuffled, surrogate(e, s, "kw_shuf"), "deterministic");
            if (!source.equals(shuffled)) {
                reordered++;
            }
        }
        assertTrue(reordered >= 2, "8 keywords shuffled should change order in most samples");
    }

    @Test
    void shuffledOfUnknownConditionIsRejected() {
        PlanException x = assertThrows(PlanException.class, () -> expander(
                "{\"name\": \"s\", \"placement\": \"SUFFIX\", \"surrogate_kind\": \"shuffled\", \"of\": \"nope\"}"));
        assertTrue(x.getMessage().contains("$.conditions[1].of: no condition named 'nope'"), x.getMessage());
    }

    @Test
    void irrelevantAndRandomPassageBorrowFromOtherSamples() {
        PlanExpander e = expander("""
                {"name": "irr", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "irrelevant"},
                {"name": "irr_suffix", "placement": "SUFFIX", "surrogate_kind": "irrelevant"},
                {"name": "rp", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "random_passage"}""");
        List<Sample> samples = samples();
        Set<String> queries = samples.stream().map(Sample::getQuery).collect(Collectors.toSet());
        Set<String> passages = samples.stream().map(Sample::getPassage).collect(Collectors.toSet());
        for (Sample s : samples) {
            String irr = surrogate(e, s, "irr");
            assertTrue(queries.contains(irr) && !irr.equals(s.getQuery()), irr);
            assertEquals(irr, surrogate(e, s, "irr_suffix"), "same kind and parameters: same text in both placements");
            String rp = surrogate(e, s, "rp");
            assertTrue(passages.contains(rp) && !rp.equals(s.getPassage()), rp);
        }
    }

    @Test
    void leadSentenceRepeatAndRandomWord() {
        PlanExpander e = expander("""
                {"name": "lead", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "lead"},
                {"name": "the", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "repeat", "n": 4},
                {"name": "word", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "random_word"}""");
        Sample austen = samples().get(1);
        assertEquals("Pride and Prejudice is an 1813 novel of manners written by Jane Austen.", surrogate(e, austen, "lead"));
        assertEquals("the the the the", surrogate(e, austen, "the"));
        Set<String> words = new HashSet<>();
        DocumentFrequencies df = CorpusScan.run(DATASET, 42, Optional.empty()).corpus().frequencies();
        for (Sample s : samples()) {
            String word = surrogate(e, s, "word");
            assertTrue(df.frequency(word) > 0, word);
            words.add(word);
        }
        assertTrue(words.size() >= 2, "a random word per sample: " + words);
    }

    @Test
    void paraphraseComesFromTheFile(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("paraphrases.jsonl");
        Files.writeString(file, """
                {"id": "19699", "surrogate": "define results based accountability"}
                {"id": 19702, "surrogate": "author of pride and prejudice"}
                19703\tplants making food from light
                """);
        GeneratorResources resources = new GeneratorResources(Optional.empty(), dir, Optional.empty());
        PlanExpander e = expander("{\"name\": \"gen\", \"placement\": \"PREFIX_TRUNCATED\", \"surrogate_kind\": \"generated\", \"file\": \"paraphrases.jsonl\"}",
                42, resources);
        List<Sample> samples = samples();
        assertEquals("define results based accountability", surrogate(e, samples.get(0), "gen"));
        assertEquals("author of pride and prejudice", surrogate(e, samples.get(1), "gen"));
        assertEquals("plants making food from light", surrogate(e, samples.get(2), "gen"));

        Files.writeString(file, "{\"id\": \"19699\", \"surrogate\": \"only one\"}\n");
        PlanExpander partial = expander("{\"name\": \"gen\", \"placement\": \"SUFFIX\", \"surrogate_kind\": \"paraphrase\"}",
                42, new GeneratorResources(Optional.empty(), dir, Optional.of(file)));
        IllegalStateException x = assertThrows(IllegalStateException.class, () -> partial.conditionsFor(samples.get(1)));
        assertTrue(x.getMessage().contains("no surrogate for sample '19702'"), x.getMessage());
    }

    @Test
    void unknownParameterIsRejectedWithItsPath() {
        PlanException x = assertThrows(PlanException.class,
                () -> expander("{\"name\": \"kw\", \"placement\": \"SUFFIX\", \"surrogate_kind\": \"keywords\", \"kk\": 3}"));
        assertTrue(x.getMessage().contains("$.conditions[1].kk: unknown key for surrogate_kind 'keywords' (it takes k)"), x.getMessage());
    }

    @Test
    void everyKindIsRegisteredOnce() {
        Map<String, Integer> count = new HashMap<>();
        SurrogateKinds.names().forEach(n -> count.merge(n, 1, Integer::sum));
        assertEquals(Set.of(1), new HashSet<>(count.values()));
        assertTrue(SurrogateKinds.names().containsAll(List.of("oracle", "static", "keywords", "template", "random_tokens",
                "shuffled", "irrelevant", "random_passage", "lead", "repeat", "random_word", "paraphrase", "generated")));
    }

    /** The same records in another file layout (and so another reading order of columns) expand identically. */
    @Test
    void expansionDependsOnSeedAndSampleNotOnFileLayout() {
        GeneratorResources model = new GeneratorResources(Optional.of(resource("/tiny-model")), Path.of("."), Optional.empty());
        String json = """
                {"seed": %d, "conditions": [{"name": "bare"},
                  {"name": "kw", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "keywords"},
                  {"name": "shuf", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "shuffled", "of": "kw"},
                  {"name": "irr", "placement": "SUFFIX", "surrogate_kind": "irrelevant"},
                  {"name": "rp", "placement": "SUFFIX", "surrogate_kind": "random_passage"},
                  {"name": "rt", "placement": "SUFFIX", "surrogate_kind": "random_tokens"},
                  {"name": "rw", "placement": "SUFFIX", "surrogate_kind": "random_word", "n": 3}]}""";
        Dataset columns = new Dataset(resource("/datasets/msmarco_columns.json"), DatasetFormat.MSMARCO_COLUMNS, ReaderOptions.defaults());
        Dataset export = new Dataset(resource("/datasets/msmarco_hf_export.jsonl"), DatasetFormat.MSMARCO_JSONL, ReaderOptions.defaults());
        Plan plan = Plan.parse(json.formatted(42), "p", "p", Path.of("."));
        PlanExpander a = plan.expander(model, CorpusScan.run(columns, 42, Optional.empty()).corpus());
        PlanExpander b = plan.expander(model, CorpusScan.run(export, 42, Optional.empty()).corpus());
        Plan reseeded = Plan.parse(json.formatted(7), "p", "p", Path.of("."));
        PlanExpander c = reseeded.expander(model, CorpusScan.run(columns, 7, Optional.empty()).corpus());
        int changedBySeed = 0;
        for (Sample s : samples()) {
            assertEquals(a.conditionsFor(s), b.conditionsFor(s));
            assertEquals(a.conditionsFor(s), a.conditionsFor(s));
            if (!surrogate(a, s, "rt").equals(surrogate(c, s, "rt"))) {
                changedBySeed++;
            }
            assertEquals(surrogate(a, s, "kw"), surrogate(c, s, "kw"), "keywords have no randomness");
        }
        assertEquals(samples().size(), changedBySeed, "another seed draws other random tokens for every sample");
    }

    private static List<String> sortedWords(String text) {
        return Arrays.stream(text.split(" ")).sorted().toList();
    }
}
