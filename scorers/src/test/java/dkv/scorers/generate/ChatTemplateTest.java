package dkv.scorers.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Chat templates rendered by jinjava equal HF {@code apply_chat_template(tokenize=False)} (generation/chat.json). */
class ChatTemplateTest {

    static final JsonNode TEMPLATES = GenerationFixture.json("chat.json").get("templates");

    @TempDir
    Path dir;

    static JsonNode entry(String name) {
        for (JsonNode t : TEMPLATES) if (t.get("name").asText().equals(name)) return t;
        throw new IllegalArgumentException("no template " + name + " in chat.json");
    }

    static String template(String name) {
        return entry(name).get("template").asText();
    }

    static List<ChatTemplate.Message> messages(JsonNode array) {
        List<ChatTemplate.Message> out = new ArrayList<>();
        for (JsonNode m : array) out.add(new ChatTemplate.Message(m.get("role").asText(), m.get("content").asText()));
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama2", "mistral", "chatml", "gemma3"})
    void rendersAsHfDoes(String name) throws IOException {
        JsonNode t = entry(name);
        // through a snapshot's tokenizer_config.json, as a model directory carries it (special tokens as AddedToken objects)
        Path config = dir.resolve("tokenizer_config.json");
        Files.writeString(config, "{\"bos_token\": {\"content\": " + t.get("bos_token") + ", \"special\": true}, \"eos_token\": "
                + t.get("eos_token") + ", \"chat_template\": " + new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(t.get("template").asText()) + "}");
        ChatTemplate template = ChatTemplate.of(dir);
        int rendered = 0;
        for (JsonNode c : t.get("cases")) {
            List<ChatTemplate.Message> messages = messages(c.get("messages"));
            boolean prompt = c.get("add_generation_prompt").booleanValue();
            if (c.has("rendered")) {
                assertEquals(c.get("rendered").asText(), template.render(messages, prompt), name + " " + c.get("messages"));
                rendered++;
            } else {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> template.render(messages, prompt));
                assertTrue(e.getMessage().startsWith(config + ": chat template cannot be rendered: "), e.getMessage());
                assertTrue(e.getMessage().contains(c.get("error").asText()), e.getMessage() + " should say: " + c.get("error"));
                assertEquals(1, e.getMessage().lines().count());
            }
        }
        assertTrue(rendered >= 6, name + " rendered " + rendered);
    }

    @Test
    void aListOfNamedTemplatesUsesTheDefault() throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"},"
                + " {\"name\": \"default\", \"template\": \"{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}\"}]}");
        assertEquals("<user>hi", ChatTemplate.of(dir).render(List.of(new ChatTemplate.Message("user", "hi")), false));
    }

    @Test
    void aMissingOrBrokenTemplateIsOneLineNamingTheFile() throws IOException {
        Path config = dir.resolve("tokenizer_config.json");
        Files.writeString(config, "{\"bos_token\": \"<s>\"}");
        var none = assertThrows(IllegalArgumentException.class, () -> ChatTemplate.of(dir));
        assertEquals(config + ": no chat_template (and no chat_template.jinja): not a chat model", none.getMessage());

        Files.writeString(config, "{\"chat_template\": \"{% for m in messages %}{{ m.content }\"}");
        var broken = assertThrows(IllegalArgumentException.class,
                () -> ChatTemplate.of(dir).render(List.of(new ChatTemplate.Message("user", "hi")), true));
        assertTrue(broken.getMessage().startsWith(config + ": chat template cannot be rendered: "), broken.getMessage());
        assertEquals(1, broken.getMessage().lines().count(), broken.getMessage());

        Files.writeString(config, "{\"chat_template\": [{\"name\": \"rag\", \"template\": \"T\"}]}");
        var noDefault = assertThrows(IllegalArgumentException.class, () -> ChatTemplate.of(dir));
        assertEquals(config + ": chat_template lists [rag] but no 'default' template", noDefault.getMessage());
    }

    @Test
    void aChatTemplateJinjaFileServesWhenTheConfigHasNone() throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": \"<s>\"}");
        Files.writeString(dir.resolve("chat_template.jinja"), "{{ bos_token }}{{ messages[0]['content'] }}");
        ChatTemplate t = ChatTemplate.of(dir);
        assertEquals(dir.resolve("chat_template.jinja"), t.file());
        assertEquals("<s>x", t.renderUserTurn("x"));
    }
}
