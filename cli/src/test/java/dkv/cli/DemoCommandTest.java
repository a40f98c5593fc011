package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code dkv demo} end to end in one JVM, on the llama fixture model so it does not wait for the trained demo model. */
class DemoCommandTest {

    @TempDir
    Path dir;

    @Test
    @Timeout(120)
    void runsThePipelineAndWritesTheReport() throws Exception {
        Path samples = dir.resolve("samples.jsonl");
        Files.write(samples, Files.readAllLines(ScoreCommandTest.SAMPLES, StandardCharsets.UTF_8));
        Path out = dir.resolve("out");
        CliRun run = CliRun.dkv("demo", "--model", ScoreCommandTest.FIXTURE_MODEL.toString(),
                "--dataset", samples.toString(), "--plan", Path.of("src", "test", "resources", "score", "eos-plan.json").toString(),
                "--samples", "3", "--out", out.toString(), "--http-port", "0");
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.err().contains("dashboard at http://127.0.0.1:"), run.err());
        assertTrue(run.err().contains("9/9 scores"), "progress reached every planned score:\n" + run.err());
        Path report = out.resolve("report.md");
        assertTrue(run.err().contains("report written to " + report.toAbsolutePath()), run.err());
        String markdown = Files.readString(report);
        for (String condition : new String[] {"trunc", "suffix"}) {
            assertTrue(markdown.contains(condition), condition + " missing from the report:\n" + markdown);
        }
    }

    /**
     * {@code dkv demo --generated}: a generator worker answers the documents (with the extractive stand-in, said so: this
     * build has no generation engine), the producer joins its surrogates into the work, and the routed and best-of
     * conditions reach the report.
     */
    @Test
    @Timeout(180)
    void theGeneratedVariantJoinsSurrogatesIntoTheWorkAndSaysItsTextsAreStandIns() throws Exception {
        Path samples = dir.resolve("samples.jsonl");
        Files.write(samples, Files.readAllLines(ScoreCommandTest.SAMPLES, StandardCharsets.UTF_8));
        Path plan = dir.resolve("plan-generated.json");
        Files.writeString(plan, """
                {"experiment_id": "demo-generated-test", "samples": 3, "baseline": "bare",
                 "generation": {"model": "tiny-generator", "templates": {"a": "Ask: {document}", "b": "Keywords: {document}"}},
                 "conditions": [{"name": "bare"},
                   {"name": "gen_a", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "generated", "template": "a"},
                   {"name": "gen_b", "placement": "PREFIX_TRUNCATED", "surrogate_kind": "generated", "template": "b"},
                   {"name": "gen_routed", "placement": "SUFFIX", "surrogate_kind": "generated", "template": "routed"}],
                 "derived": [{"name": "generated_routed", "kind": "routed", "members": ["gen_a", "gen_b"]},
                             {"name": "generated_best_of", "kind": "best_of", "members": ["gen_a", "gen_b"]}]}""");
        Path out = dir.resolve("out");
        CliRun run = CliRun.dkv("demo", "--generated", "--model", ScoreCommandTest.FIXTURE_MODEL.toString(),
                "--dataset", samples.toString(), "--plan", plan.toString(), "--samples", "3", "--out", out.toString(),
                "--http-port", "0");
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.err().contains("generator: extractive stand-in for 'tiny-generator'"), run.err());
        assertTrue(run.err().contains("not generated text"), run.err());
        assertTrue(run.err().contains("lexical stand-in"), run.err());
        assertTrue(run.err().contains("12/12 scores"), "progress reached every planned score:\n" + run.err());
        String markdown = Files.readString(out.resolve("report.md"));
        for (String condition : new String[] {"gen_routed", "generated_routed", "generated_best_of"}) {
            assertTrue(markdown.contains(condition), condition + " missing from the report:\n" + markdown);
        }
    }

    @Test
    void aPlanWithGeneratedSurrogatesNeedsTheGeneratedVariant() throws Exception {
        Path plan = dir.resolve("plan.json");
        Files.writeString(plan, """
                {"generation": {"model": "g"}, "conditions": [{"name": "bare"},
                  {"name": "gen", "placement": "SUFFIX", "surrogate_kind": "generated", "template": "target_question"}]}""");
        CliRun run = CliRun.dkv("demo", "--model", ScoreCommandTest.FIXTURE_MODEL.toString(), "--plan", plan.toString(),
                "--dataset", ScoreCommandTest.SAMPLES.toString(), "--out", dir.resolve("out").toString());
        assertEquals(2, run.exit());
        assertEquals("dkv demo: " + plan + ": a plan with generated surrogates runs with --generated", run.err().strip());
    }

    @Test
    void aMissingDemoModelIsOneLineNamingIt() {
        CliRun run = CliRun.dkv("demo", "--model", dir.resolve("no-model").toString(),
                "--plan", Path.of("src", "test", "resources", "score", "eos-plan.json").toString(),
                "--dataset", ScoreCommandTest.SAMPLES.toString(), "--out", dir.resolve("out").toString());
        assertEquals(2, run.exit());
        assertEquals("dkv demo: model directory " + dir.resolve("no-model") + " does not exist", run.err().strip());
    }
}
