package dkv.scorers.generate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A snapshot's chat template (Jinja) rendered as HF {@code apply_chat_template(messages, tokenize=False,
 * add_generation_prompt=...)} does: {@code tokenizer_config.json}'s {@code chat_template} (a string, or a list of
 * {@code {name, template}} of which "default" is used), else a {@code chat_template.jinja} file (transformers ≥ 4.43
 * saves it there); rendered with HubSpot jinjava under HF's environment settings ({@code trim_blocks},
 * {@code lstrip_blocks}) with {@code messages}, {@code add_generation_prompt}, the special tokens
 * ({@code bos_token}, {@code eos_token}, {@code unk_token}, {@code pad_token}) and {@code raise_exception}. A
 * template jinjava cannot render fails with one line naming the file.
 */
public final class ChatTemplate {

    /** One chat turn. */
    public record Message(String role, String content) {}

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Jinjava JINJAVA = new Jinjava(JinjavaConfig.newBuilder()
            .withTrimBlocks(true)
            .withLstripBlocks(true)
            .withFailOnUnknownTokens(false)
            .withLegacyOverrides(LegacyOverrides.newBuilder()
                    .withUseNaturalOperatorPrecedence(true)
                    .withParseWhitespaceControlStrictly(true)
                    .withUseTrimmingForNotesAndExpressions(true)
                    .withEvaluateMapKeys(true)
                    .withIterateOverMapKeys(true)
                    .withKeepNullableLoopValues(true)
                    .withAllowAdjacentTextNodes(true)
                    .build())
            .build());

    static {
        JINJAVA.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class,
                "raiseException", String.class));
    }

    private final Path file;
    private final String template;
    private final Map<String, String> specialTokens;

    private ChatTemplate(Path file, String template, Map<String, String> specialTokens) {
        this.file = file;
        this.template = template;
        this.specialTokens = specialTokens;
    }

    /** The template of the snapshot in {@code dir}; an error naming the file when it has none. */
    public static ChatTemplate of(Path dir) {
        Path config = dir.resolve("tokenizer_config.json");
        Map<String, String> special = new LinkedHashMap<>();
        String template = null;
        Path from = config;
        if (Files.exists(config)) {
            JsonNode node = read(config);
            for (String name : List.of("bos_token", "eos_token", "unk_token", "pad_token")) {
                String token = tokenText(node.get(name));
                if (token != null) special.put(name, token);
            }
            template = templateText(config, node.get("chat_template"));
        }
        if (template == null) {
            Path jinja = dir.resolve("chat_template.jinja");
            if (Files.exists(jinja)) {
                try {
                    template = Files.readString(jinja);
                } catch (IOException e) {
                    throw new IllegalArgumentException(jinja + ": cannot read: " + e.getMessage(), e);
                }
                from = jinja;
            }
        }
        if (template == null) {
            throw new IllegalArgumentException(config + ": no chat_template (and no chat_template.jinja): not a chat model");
        }
        return new ChatTemplate(from, template, special);
    }

    /** A template text with explicit special tokens (tests, templates from elsewhere). */
    public static ChatTemplate of(Path file, String template, Map<String, String> specialTokens) {
        return new ChatTemplate(file, template, Map.copyOf(specialTokens));
    }

    /** The file the template came from. */
    public Path file() {
        return file;
    }

    /** The rendered conversation, ending with the assistant's turn opener when {@code addGenerationPrompt}. */
    public String render(List<Message> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> list = new ArrayList<>(messages.size());
        for (Message m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            list.add(map);
        }
        Map<String, Object> context = new HashMap<>(specialTokens);
        context.put("messages", list);
        context.put("add_generation_prompt", addGenerationPrompt);
        RenderResult result;
        try {
            result = JINJAVA.renderForResult(template, context);
        } catch (RuntimeException e) {
            String why = e.getMessage();
            for (Throwable t = e; t != null; t = t.getCause()) if (t instanceof TemplateException refusal) why = refusal.getMessage();
            throw new IllegalArgumentException(file + ": chat template cannot be rendered: " + oneLine(why), e);
        }
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                String why = error.getMessage();
                for (Throwable t = error.getException(); t != null; t = t.getCause()) {
                    if (t instanceof TemplateException refusal) why = refusal.getMessage();
                }
                throw new IllegalArgumentException(file + ": chat template cannot be rendered: " + oneLine(why)
                        + (error.getLineno() > 0 ? " (template line " + error.getLineno() + ")" : ""));
            }
        }
        return result.getOutput();
    }

    /** One user turn, with the generation prompt: how a plain prompt becomes a chat prompt. */
    public String renderUserTurn(String content) {
        return render(List.of(new Message("user", content)), true);
    }

    /** HF's {@code raise_exception(message)} global: the template's own refusal. */
    public static String raiseException(String message) {
        throw new TemplateException(message);
    }

    /** What {@code raise_exception} throws, so the template's message reaches the error line unchanged. */
    static final class TemplateException extends RuntimeException {
        TemplateException(String message) {
            super("raise_exception: " + message);
        }
    }

    private static JsonNode read(Path config) {
        try {
            JsonNode node = JSON.readTree(Files.readString(config));
            if (node == null || !node.isObject()) throw new IllegalArgumentException(config + ": not a JSON object");
            return node;
        } catch (IOException e) {
            throw new IllegalArgumentException(config + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** A special token as a string or an AddedToken object ({@code {"content": ...}}); null when absent. */
    private static String tokenText(JsonNode node) {
        if (node == null || node.isNull()) return null;
        if (node.isTextual()) return node.asText();
        if (node.isObject() && node.path("content").isTextual()) return node.get("content").asText();
        return null;
    }

    private static String templateText(Path config, JsonNode node) {
        if (node == null || node.isNull()) return null;
        if (node.isTextual()) return node.asText();
        if (node.isArray()) {
            List<String> names = new ArrayList<>();
            for (JsonNode t : node) {
                String name = t.path("name").asText(null);
                names.add(name);
                if ("default".equals(name) && t.path("template").isTextual()) return t.get("template").asText();
            }
            throw new IllegalArgumentException(config + ": chat_template lists " + names + " but no 'default' template");
        }
        throw new IllegalArgumentException(config + ": chat_template must be a string or a list of {name, template}");
    }

    private static String oneLine(String s) {
        return s == null ? "(no message)" : s.replaceAll("\\s*\\R\\s*", " ").strip();
    }
}
