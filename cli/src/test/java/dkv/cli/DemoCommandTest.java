package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.scorers.generate.ChatTemplate;
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
     * {@code dkv demo --generated} as shipped ({@code demo/}: the bundled tiny Llama, its chat template, plan-generated.json
     * with dkv's five templates): the generator worker generates with the engine on the scorers' model and says so, the
     * producer joins its surrogates into the work, and the routed and best-of conditions reach the report.
     */
    @Test
    @Timeout(240)
    void theGeneratedVariantGeneratesWithTheBundledModelAndJoinsTheSurrogatesIntoTheWork() throws Exception {
        Path out = dir.resolve("out");
        Path demo = Path.of("..", "demo");
        CliRun run = CliRun.dkv("demo", "--generated", "--demo-dir", demo.toString(), "--samples", "3", "--out", out.toString(),
                "--http-port", "0");
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.err().contains("generator 'dkv-tiny-llama': text generation with llama model " + demo.resolve("model")), run.err());
        assertTrue(run.err().contains("chat template " + demo.resolve("model").resolve("chat_template.jinja")), run.err());
        assertFalse(run.err().contains("extractive"), run.err());
        assertTrue(run.err().contains("lexical stand-in"), run.err());
        assertTrue(run.err().contains("27/27 scores"), "progress reached every planned score:\n" + run.err());
        String markdown = Files.readString(out.resolve("report.md"));
        for (String condition : new String[] {"gen_target_question", "generated_routed", "generated_best_of", "static_routed"}) {
            assertTrue(markdown.contains(condition), condition + " missing from the report:\n" + markdown);
        }
    }

    /** The demo model's template (dkv's own) renders in dkv as transformers 5.17 {@code apply_chat_template} renders it. */
    @Test
    void theDemoModelsChatTemplateLaysAUserTurnOutAsItsTrainingText() {
        assertEquals("<s>Ask: doc\n\nQuestion:", ChatTemplate.of(Path.of("..", "demo", "model")).renderUserTurn("Ask: doc"));
    }

    /** A model without a chat template cannot be the demo's generator: one line, before the broker starts. */
    @Test
    void theGeneratedVariantNeedsAModelWithAChatTemplate() throws Exception {
        CliRun run = CliRun.dkv("demo", "--generated", "--demo-dir", Path.of("..", "demo").toString(),
                "--model", ScoreCommandTest.FIXTURE_MODEL.toString(), "--out", dir.resolve("out").toString());
        assertEquals(2, run.exit());
        assertEquals("dkv demo: " + ScoreCommandTest.FIXTURE_MODEL.resolve("tokenizer_config.json")
                + ": no chat_template (and no chat_template.jinja): not a chat model", run.err().strip());
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
