package dkv.scorers.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Generation against HF transformers {@code generate} (ops/reference/generation_fixtures.py) on the tiny random
 * models: greedy new tokens equal HF's for each prompt alone and for all of them in one padded batch; sampling is a
 * function of the seed alone; stop conditions and refusals.
 */
class TextGeneratorTest {

    static final JsonNode EXPECTED = GenerationFixture.json("expected.json").get("models");
    static CausalLm llama;

    @BeforeAll
    static void load() {
        llama = ModelFamilies.loadCausal(GenerationFixture.dir("llama"), Device.cpu(), DType.FLOAT32);
    }

    @AfterAll
    static void close() {
        llama.close();
    }

    static List<GenerationRequest> requests(JsonNode prompts, boolean raw, int maxNew, Sampling sampling, long seed) {
        List<GenerationRequest> out = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            String p = prompts.get(i).asText();
            out.add(raw ? GenerationRequest.raw(p, maxNew, sampling, seed + i) : GenerationRequest.chat(p, maxNew, sampling, seed + i));
        }
        return out;
    }

    static void assertTokens(JsonNode expected, List<Generation> got, String what) {
        assertEquals(expected.size(), got.size(), what);
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(GenerationFixture.ints(expected.get(i)), got.get(i).newTokens(), what + " prompt " + i);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "mistral", "gemma3"})
    void greedyTokensEqualHfGenerateAloneAndBatched(String name) {
        JsonNode want = EXPECTED.get(name);
        int maxNew = want.get("max_new_tokens").intValue();
        try (CausalLm lm = name.equals("llama") ? null : ModelFamilies.loadCausal(GenerationFixture.dir(name), Device.cpu(), DType.FLOAT32)) {
            CausalLm model = lm == null ? llama : lm;
            List<GenerationRequest> requests = requests(want.get("prompts"), true, maxNew, Sampling.GREEDY, 0);
            TextGenerator alone = new TextGenerator(model, 1);
            assertEquals(Set.copyOf(Arrays.stream(GenerationFixture.ints(want.get("eos"))).boxed().toList()), alone.config().eos());
            List<Generation> one = alone.generate(requests);
            List<Generation> batched = new TextGenerator(model, 8).generate(requests);
            assertTokens(want.get("alone"), one, name + " batch 1");
            assertTokens(want.get("batched"), batched, name + " batched");
            for (int i = 0; i < one.size(); i++) {
                assertEquals(want.get("prompt_ids").get(i).size(), one.get(i).promptTokens(), "prompt tokens " + i);
                int[] tokens = one.get(i).newTokens();
                boolean eos = alone.config().eos().contains(tokens[tokens.length - 1]);
                assertEquals(eos ? Generation.Stop.EOS : Generation.Stop.MAX_NEW_TOKENS, one.get(i).stop(), name + " " + i);
                assertEquals(one.get(i).text(), batched.get(i).text());
            }
        }
    }

    @Test
    void chatPromptsEqualHfGenerateOnTheRenderedTemplate() {
        JsonNode want = EXPECTED.get("llama").get("chat");
        ChatTemplate template = ChatTemplate.of(GenerationFixture.dir("llama").resolve("tokenizer_config.json"),
                ChatTemplateTest.template(want.get("template").asText()), java.util.Map.of("bos_token", "<s>", "eos_token", "</s>"));
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < want.get("prompts").size(); i++) {
            String rendered = template.renderUserTurn(want.get("prompts").get(i).asText());
            assertEquals(want.get("rendered").get(i).asText(), rendered);
            requests.add(GenerationRequest.chat(rendered, EXPECTED.get("llama").get("max_new_tokens").intValue(), Sampling.GREEDY, 0));
        }
        List<Generation> got = new TextGenerator(llama, 4).generate(requests);
        assertTokens(want.get("alone"), got, "chat");
        for (int i = 0; i < got.size(); i++) assertEquals(want.get("prompt_ids").get(i).size(), got.get(i).promptTokens());
    }

    @Test
    void aSeedDecidesTheSampleWhateverTheBatch() {
        JsonNode prompts = EXPECTED.get("llama").get("prompts");
        Sampling sampling = new Sampling(1.0, 0.9, 0);
        List<Generation> a = new TextGenerator(llama, 4).generate(requests(prompts, true, 10, sampling, 42));
        List<Generation> b = new TextGenerator(llama, 1).generate(requests(prompts, true, 10, sampling, 42));
        List<Generation> c = new TextGenerator(llama, 4).generate(requests(prompts, true, 10, sampling, 4242));
        List<Generation> greedy = new TextGenerator(llama, 4).generate(requests(prompts, true, 10, Sampling.GREEDY, 0));
        int differentSeed = 0;
        int differentFromGreedy = 0;
        for (int i = 0; i < a.size(); i++) {
            assertArrayEquals(a.get(i).newTokens(), b.get(i).newTokens(), "same seed, batch 4 vs 1, prompt " + i);
            if (!Arrays.equals(a.get(i).newTokens(), c.get(i).newTokens())) differentSeed++;
            if (!Arrays.equals(a.get(i).newTokens(), greedy.get(i).newTokens())) differentFromGreedy++;
        }
        assertTrue(differentSeed >= 3, "another seed changes the samples: " + differentSeed + " of " + a.size());
        assertTrue(differentFromGreedy >= 3, "sampling is not greedy: " + differentFromGreedy + " of " + a.size());
    }

    @Test
    void topKOfOneIsGreedy() {
        JsonNode prompts = EXPECTED.get("llama").get("prompts");
        List<Generation> topOne = new TextGenerator(llama, 4).generate(requests(prompts, true, 12, new Sampling(1.5, 1, 1), 9));
        assertTokens(EXPECTED.get("llama").get("alone"), topOne, "top-k 1");
    }

    @Test
    void aStopStringEndsTheTextBeforeIt() {
        JsonNode want = EXPECTED.get("llama");
        String prompt = want.get("prompts").get(0).asText();
        Generation full = new TextGenerator(llama, 1).generate(List.of(GenerationRequest.raw(prompt, 12, Sampling.GREEDY, 0))).getFirst();
        String text = full.text();
        String stop = text.substring(text.length() / 2, text.length() / 2 + 3);
        int cut = text.indexOf(stop);
        Generation stopped = new TextGenerator(llama, 1).generate(List.of(GenerationRequest.raw(prompt, 12, Sampling.GREEDY, 0)
                .withStops(List.of("never appears in it", stop)))).getFirst();
        assertEquals(Generation.Stop.STOP_STRING, stopped.stop());
        assertEquals(text.substring(0, cut), stopped.text());
        int[] prefix = Arrays.copyOf(full.newTokens(), stopped.newTokens().length);
        assertArrayEquals(prefix, stopped.newTokens(), "the same tokens up to the one completing the stop string");
        assertTrue(stopped.newTokens().length < full.newTokens().length, "stopped early");
    }

    @Test
    void anEndOfSequenceTokenIsKeptAndEndsTheRow() {
        JsonNode want = EXPECTED.get("llama");
        int[] greedy = GenerationFixture.ints(want.get("alone").get(1));
        int at = 2;  // the first token from the third on that did not come before: declared EOS, it ends the row there
        while (at < greedy.length && firstAt(greedy, greedy[at]) != at) at++;
        assertTrue(at < greedy.length - 1, "no fresh token to declare EOS in " + Arrays.toString(greedy));
        GenerationConfig eos = new GenerationConfig(Set.of(greedy[at]), 256);
        List<Generation> got = new TextGenerator(llama, eos, 4).generate(requests(want.get("prompts"), true, 12, Sampling.GREEDY, 0));
        assertArrayEquals(Arrays.copyOf(greedy, at + 1), got.get(1).newTokens(), "up to the EOS, inclusive");
        assertEquals(Generation.Stop.EOS, got.get(1).stop());
        for (int i = 0; i < got.size(); i++) {
            int[] full = GenerationFixture.ints(want.get("alone").get(i));
            int[] g = got.get(i).newTokens();
            assertArrayEquals(Arrays.copyOf(full, g.length), g, "other rows unaffected by a finished one, prompt " + i);
        }
    }

    static int firstAt(int[] tokens, int token) {
        for (int i = 0; i < tokens.length; i++) if (tokens[i] == token) return i;
        return -1;
    }

    @Test
    void badPromptsAreRefusedAloneWithTheirReason() {
        JsonNode want = EXPECTED.get("llama");
        int[] shortIds = GenerationFixture.ints(want.get("prompt_ids").get(2));  // 5 tokens
        GenerationConfig small = new GenerationConfig(Set.of(1), 9);
        List<GenerationRequest> requests = List.of(
                GenerationRequest.raw(want.get("prompts").get(1).asText(), 12, Sampling.GREEDY, 0),   // 77 tokens > 9
                GenerationRequest.chat("", 12, Sampling.GREEDY, 0),                                 // no tokens at all
                GenerationRequest.raw(want.get("prompts").get(2).asText(), 12, Sampling.GREEDY, 0)); // fits, cut by the context
        List<Generation> got = new TextGenerator(llama, small, 4).generate(requests);
        assertEquals("prompt of 77 tokens leaves no room in the model's context of 9 (max_position_embeddings)", got.get(0).problem());
        assertEquals(Generation.Stop.REFUSED, got.get(0).stop());
        assertEquals("empty prompt: no tokens to continue", got.get(1).problem());
        assertNull(got.get(2).problem());
        assertEquals(Generation.Stop.CONTEXT, got.get(2).stop());
        assertArrayEquals(Arrays.copyOf(GenerationFixture.ints(want.get("alone").get(2)), 9 - shortIds.length), got.get(2).newTokens());
    }

    @Test
    void anEmptyTextIsTheItemsProblem() {
        String prompt = EXPECTED.get("llama").get("prompts").get(0).asText();
        TextGenerator generator = new TextGenerator(llama, 1);
        String text = generator.generate(List.of(GenerationRequest.raw(prompt, 12, Sampling.GREEDY, 0))).getFirst().text();
        // a stop string at the very start of the text leaves nothing
        Generation g = generator.generate(List.of(GenerationRequest.raw(prompt, 12, Sampling.GREEDY, 0)
                .withStops(List.of(text.substring(0, 1))))).getFirst();
        assertEquals("", g.text());
        assertFalse(g.ok());
        assertTrue(g.problem().startsWith("empty generation: 1 new tokens, ended by STOP_STRING"), g.problem());
    }

    @Test
    void decodingLeavesNoTensorHandlesBehind() {
        long before = Tensor.liveHandles();
        new TextGenerator(llama, 2).generate(requests(EXPECTED.get("llama").get("prompts"), true, 6, new Sampling(0.7, 0.9, 20), 1));
        assertEquals(before, Tensor.liveHandles());
    }
}
