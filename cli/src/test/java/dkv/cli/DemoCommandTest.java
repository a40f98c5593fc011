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

    @Test
    void aMissingDemoModelIsOneLineNamingIt() {
        CliRun run = CliRun.dkv("demo", "--model", dir.resolve("no-model").toString(),
                "--plan", Path.of("src", "test", "resources", "score", "eos-plan.json").toString(),
                "--dataset", ScoreCommandTest.SAMPLES.toString(), "--out", dir.resolve("out").toString());
        assertEquals(2, run.exit());
        assertEquals("dkv demo: model directory " + dir.resolve("no-model") + " does not exist", run.err().strip());
    }
}
