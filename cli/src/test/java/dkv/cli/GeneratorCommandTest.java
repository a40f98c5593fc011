package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** {@code dkv generator}'s refusals: one line each, before any broker is contacted or weight loaded. */
class GeneratorCommandTest {

    @Test
    void aModelWithoutAChatTemplateCannotGenerateSurrogates() {
        CliRun run = CliRun.dkv("generator", "--bootstrap", "127.0.0.1:1", "--model", ScoreCommandTest.FIXTURE_MODEL.toString());
        assertEquals(2, run.exit());
        assertEquals("dkv generator: " + ScoreCommandTest.FIXTURE_MODEL.resolve("tokenizer_config.json")
                + ": no chat_template (and no chat_template.jinja): not a chat model", run.err().strip());
    }

    @Test
    void theBatchMustHoldAPrompt() {
        CliRun run = CliRun.dkv("generator", "--bootstrap", "127.0.0.1:1", "--model", ScoreCommandTest.FIXTURE_MODEL.toString(),
                "--batch", "0");
        assertEquals(2, run.exit());
        assertEquals("dkv generator: --batch must be ≥ 1, got 0", run.err().strip());
    }
}
