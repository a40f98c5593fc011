package dkv.scorers.worker.generator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.scorers.generate.GenerationFixture;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The tiny llama fixture (random weights, context 256) as a chat model: a copy of its files with a
 * {@code tokenizer_config.json} holding the Llama-2 chat template HF's {@code apply_chat_template} was checked against
 * (fixtures/generation/chat.json). The fixture itself has no template.
 */
final class ChatFixture {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ChatFixture() {}

    /** The llama fixture copied into {@code dir} (which it returns) with the Llama-2 chat template. */
    static Path llamaChat(Path dir) {
        try {
            Path llama = GenerationFixture.dir("llama");
            for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) {
                Files.copy(llama.resolve(f), dir.resolve(f));
            }
            JsonNode llama2 = null;
            for (JsonNode t : GenerationFixture.json("chat.json").get("templates")) {
                if (t.get("name").asText().equals("llama2")) llama2 = t;
            }
            if (llama2 == null) throw new IllegalStateException("chat.json has no llama2 template");
            ObjectNode config = JSON.createObjectNode();
            config.put("bos_token", llama2.get("bos_token").asText());
            config.put("eos_token", llama2.get("eos_token").asText());
            config.put("chat_template", llama2.get("template").asText());
            Files.writeString(dir.resolve("tokenizer_config.json"), JSON.writeValueAsString(config));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
