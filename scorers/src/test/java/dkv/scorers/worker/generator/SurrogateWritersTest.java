package dkv.scorers.worker.generator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.GenerationSettings;
import dkv.scorers.generate.ChatTemplate;
import dkv.scorers.generate.Generation;
import dkv.scorers.generate.GenerationFixture;
import dkv.scorers.generate.GenerationRequest;
import dkv.scorers.generate.Sampling;
import dkv.scorers.generate.TextGenerator;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The generation engine behind the generator service's port, on the tiny llama fixture with a chat template. */
class SurrogateWritersTest {

    @TempDir
    Path dir;

    static SurrogateWriter.Prompt prompt(String sample, String message, GenerationSettings settings, long seed) {
        return new SurrogateWriter.Prompt(sample, "t", "doc", message, settings, seed);
    }

    /**
     * Each prompt is the model's chat template around the message, decoded with its settings and seed: the texts and
     * token counts equal {@link TextGenerator} on the rendered prompts (greedy one by one, sampled with the prompt's seed),
     * whatever else shares the call; a prompt over the context is that prompt's failure with the reason.
     */
    @Test
    void theEngineRendersTheChatTemplateAndDecodesWithEachPromptsSettingsAndSeed() {
        Path model = ChatFixture.llamaChat(dir);
        GenerationSettings greedy = GenerationSettings.newBuilder().setMaxNewTokens(6).build();
        GenerationSettings sampled = GenerationSettings.newBuilder().setMaxNewTokens(6).setTemperature(0.8).setTopP(0.9).setTopK(40).build();
        List<SurrogateWriter.Prompt> prompts = List.of(
                prompt("a", "Write one question about rust.\n\nText: Rust is iron oxide.", greedy, 1),
                prompt("b", "Keywords for: copper wire conducts heat", sampled, 7),
                prompt("c", "word ".repeat(400), greedy, 3),
                prompt("d", "Keywords for: copper wire conducts heat", sampled, 8));
        List<SurrogateWriter.Written> written;
        try (SurrogateWriter engine = SurrogateWriters.engine(model, "tiny-chat", Device.cpu(), DType.FLOAT32, 2)) {
            assertEquals("tiny-chat", engine.modelId());
            assertTrue(engine.describe().contains("chat template " + model.resolve("tokenizer_config.json")), engine.describe());
            written = engine.write(prompts);
            assertEquals(List.of(written.get(3), written.get(0), written.get(1)),
                    engine.write(List.of(prompts.get(3), prompts.get(0), prompts.get(1))),
                    "a prompt's result does not depend on the call's other prompts or their order");
        }
        ChatTemplate template = ChatTemplate.of(model);
        try (CausalLm lm = ModelFamilies.loadCausal(model, Device.cpu(), DType.FLOAT32)) {
            TextGenerator alone = new TextGenerator(lm, 1);
            for (int i : new int[] {0, 1, 3}) {
                GenerationSettings s = prompts.get(i).settings();
                String rendered = template.renderUserTurn(prompts.get(i).message());
                assertTrue(rendered.startsWith("<s>[INST] ") && rendered.endsWith(" [/INST]"), rendered);
                Generation g = alone.generate(List.of(GenerationRequest.chat(rendered, s.getMaxNewTokens(),
                        new Sampling(s.getTemperature(), s.getTopP(), s.getTopK()), prompts.get(i).seed()))).getFirst();
                assertNull(written.get(i).failure(), "prompt " + i);
                assertEquals(g.text(), written.get(i).text(), "prompt " + i);
                assertEquals(g.newTokens().length, written.get(i).newTokens(), "prompt " + i);
            }
        }
        assertNotEquals(written.get(1).text(), written.get(3).text(), "another seed, another sample");
        assertNull(written.get(2).text());
        assertTrue(written.get(2).failure().contains("leaves no room in the model's context of 256"), written.get(2).failure());
    }

    @Test
    void aSnapshotWithoutAChatTemplateFailsBeforeItsWeightsLoad() {
        Path llama = GenerationFixture.dir("llama");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SurrogateWriters.engine(llama, "x", Device.cpu(), DType.FLOAT32, 4));
        assertEquals(llama.resolve("tokenizer_config.json") + ": no chat_template (and no chat_template.jinja): not a chat model", e.getMessage());
    }

    @Test
    void settingsTheSamplerRejectsAreThatPromptsFailureAndABorrowedModelStaysOpen() {
        Path model = ChatFixture.llamaChat(dir);
        try (CausalLm lm = ModelFamilies.loadCausal(model, Device.cpu(), DType.FLOAT32);
             SurrogateWriter engine = SurrogateWriters.engine(lm, false, "tiny-chat", 4)) {
            GenerationSettings s = GenerationSettings.newBuilder().setMaxNewTokens(3).build();
            List<SurrogateWriter.Written> out = engine.write(List.of(prompt("a", "hello", s, 1),
                    prompt("b", "hello", GenerationSettings.newBuilder(s).setTopP(0).build(), 1)));
            assertNotNull(out.get(0).text());
            assertTrue(out.get(1).failure().contains("top-p must lie in (0, 1]"), out.get(1).failure());
            assertTrue(out.get(0).newTokens() >= 1 && out.get(0).newTokens() <= 3, out.toString());
            engine.close();
            assertEquals(1, new TextGenerator(lm, 1).generate(List.of(GenerationRequest.raw("still open", 1, Sampling.GREEDY, 0)))
                    .getFirst().newTokens().length, "closing the writer left the borrowed model open");
        }
    }
}
