package dkv.producers.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The plan's generation block: defaults, templates from the plan or a file, and errors that name the field. */
class GenerationPlanTest {
    private static final String GEN = "{\"name\": \"gen\", \"placement\": \"SUFFIX\", \"surrogate_kind\": \"generated\", \"template\": \"%s\"}";

    @TempDir
    Path dir;

    private Plan parse(String generation, String... conditions) {
        String list = String.join(", ", conditions);
        return Plan.parse("{\"model\": \"m\", " + (generation == null ? "" : "\"generation\": " + generation + ", ")
                + "\"conditions\": [{\"name\": \"bare\"}" + (list.isEmpty() ? "" : ", " + list) + "]}", "p.json", "p", dir);
    }

    private String error(String generation, String... conditions) {
        return assertThrows(PlanException.class, () -> parse(generation, conditions)).getMessage();
    }

    @Test
    void theDefaultsAreDkvsFiveTemplatesGreedyAndThePlanSeed() {
        GenerationSpec g = parse("{\"model\": \"gen-model\"}", GEN.formatted("keyword_query")).generation().orElseThrow();
        assertEquals(List.copyOf(PromptTemplates.DEFAULTS.keySet()), List.copyOf(g.templates().keySet()));
        assertEquals(0.0, g.temperature());
        assertEquals(45, g.maxNewTokens());
        assertEquals(42, g.seed());
        assertNotEquals(parse(null).hash(), parse("{\"model\": \"gen-model\"}").hash(), "the block is part of the plan hash");
    }

    @Test
    void aFileReplacesTheTemplates() throws Exception {
        Files.writeString(dir.resolve("mine.jsonl"), "{\"name\": \"short\", \"text\": \"Two words: {document}\"}\n"
                + "{\"name\": \"long\", \"text\": \"Ten words please.\"}\n");
        GenerationSpec g = parse("{\"model\": \"g\", \"templates_file\": \"mine.jsonl\"}", GEN.formatted("long")).generation().orElseThrow();
        assertEquals(List.of("short", "long"), List.copyOf(g.templates().keySet()));
        Files.writeString(dir.resolve("mine.json"), "{\"a\": \"A {document}\"}");
        assertEquals(List.of("a"), List.copyOf(parse("{\"model\": \"g\", \"templates_file\": \"mine.json\"}").generation()
                .orElseThrow().templates().keySet()));
    }

    @Test
    void mistakesAreOneLineNamingTheField() {
        assertEquals("p.json: $.conditions[1].template: a generated template needs the plan's \"generation\" block (its model and"
                + " templates)", error(null, GEN.formatted("target_question")));
        assertEquals("p.json: $.conditions[1].template: no template named 'nope' (known: target_question, keyword_query,"
                + " symptom_scenario, misconception_negative, messy_realworld, or routed)", error("{\"model\": \"g\"}", GEN.formatted("nope")));
        assertEquals("p.json: $.generation.model: required: condition 'gen' is generated", error("{}", GEN.formatted("target_question")));
        assertEquals("p.json: $.generation.templates.peek: a template may not show the generator the real query ({query}); mark"
                + " the document with {document}", error("{\"model\": \"g\", \"templates\": {\"peek\": \"Rephrase {query}\"}}"));
        assertEquals("p.json: $.generation.top_p: expected a number in (0, 1], found 1.5", error("{\"model\": \"g\", \"top_p\": 1.5}"));
        assertEquals("p.json: $.generation.templatez: unknown key", error("{\"templatez\": {}}"));
        assertEquals("p.json: " + dir.resolve("missing.json") + ": templates file not found",
                error("{\"model\": \"g\", \"templates_file\": \"missing.json\"}"));
    }

    @Test
    void aRoutedMemberWhoseTextIsMadeFromGeneratedTextIsRefused() {
        String plan = "{\"model\": \"m\", \"generation\": {\"model\": \"g\"}, \"conditions\": [{\"name\": \"bare\"}, "
                + GEN.formatted("target_question") + ", {\"name\": \"shuf\", \"placement\": \"SUFFIX\", \"surrogate_kind\": "
                + "\"shuffled\", \"of\": \"gen\"}], \"derived\": [{\"name\": \"r\", \"kind\": \"routed\", \"members\": [\"gen\", \"shuf\"]}]}";
        assertEquals("p.json: $.conditions[2]: routed member 'shuf' reads generated text ('gen'), but its query similarity is"
                + " computed before that text exists; route over the generated conditions themselves",
                assertThrows(PlanException.class, () -> Plan.parse(plan, "p.json", "p", dir)).getMessage());
    }
}
