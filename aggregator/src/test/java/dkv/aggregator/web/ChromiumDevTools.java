package dkv.aggregator.web;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Headless Chromium driven over the DevTools protocol: a page with a live SSE connection never "finishes
 * loading", so {@code --dump-dom}/{@code --virtual-time-budget} would wait forever; here the test asks the page
 * for its state whenever it likes and takes the screenshot itself.
 */
final class ChromiumDevTools implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);

    private final Process process;
    private final WebSocket socket;
    private final AtomicInteger ids = new AtomicInteger();
    private final Map<Integer, CompletableFuture<JsonNode>> pending;
    private final List<String> problems;

    private ChromiumDevTools(Process process, WebSocket socket, Map<Integer, CompletableFuture<JsonNode>> pending,
            List<String> problems) {
        this.process = process;
        this.socket = socket;
        this.pending = pending;
        this.problems = problems;
    }

    static ChromiumDevTools launch(Path chromium, Path profile, int width, int height) throws Exception {
        Process process = new ProcessBuilder(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--user-data-dir=" + profile, "--remote-debugging-port=0", "--window-size=" + width + "," + height,
                "about:blank")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            int port = devToolsPort(profile.resolve("DevToolsActivePort"), process);
            HttpClient http = HttpClient.newHttpClient();
            String targets = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/json/list"))
                    .build(), HttpResponse.BodyHandlers.ofString()).body();
            String pageSocket = null;
            for (JsonNode target : JSON.readTree(targets)) {
                if (target.path("type").asText().equals("page")) {
                    pageSocket = target.path("webSocketDebuggerUrl").asText();
                }
            }
            if (pageSocket == null) {
                throw new IllegalStateException("chromium exposes no page target: " + targets);
            }
            Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
            List<String> problems = new CopyOnWriteArrayList<>();
            WebSocket socket = http.newWebSocketBuilder()
                    .buildAsync(URI.create(pageSocket), new Listener(pending, problems)).get(30, TimeUnit.SECONDS);
            ChromiumDevTools browser = new ChromiumDevTools(process, socket, pending, problems);
            // what the browser console would show: script errors, console.error, failed requests (e.g. a 404)
            for (String domain : List.of("Runtime", "Log", "Network")) {
                browser.call(domain + ".enable", Map.of());
            }
            return browser;
        } catch (Exception e) {
            destroy(process);
            throw e;
        }
    }

    private static int devToolsPort(Path file, Process process) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("chromium exited with " + process.exitValue());
            }
            if (Files.exists(file)) {
                List<String> lines = Files.readAllLines(file);
                if (!lines.isEmpty() && !lines.getFirst().isBlank()) {
                    return Integer.parseInt(lines.getFirst().strip());
                }
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("chromium did not open its DevTools port within 60 s");
    }

    JsonNode call(String method, Map<String, Object> params) throws Exception {
        int id = ids.incrementAndGet();
        CompletableFuture<JsonNode> result = new CompletableFuture<>();
        pending.put(id, result);
        ObjectNode message = JSON.createObjectNode();
        message.put("id", id);
        message.put("method", method);
        message.set("params", JSON.valueToTree(params));
        socket.sendText(JSON.writeValueAsString(message), true).get(CALL_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        JsonNode response = result.get(CALL_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        if (response.has("error")) {
            throw new IllegalStateException("DevTools " + method + ": " + response.get("error"));
        }
        return response.path("result");
    }

    void navigate(String url) throws Exception {
        call("Page.navigate", Map.of("url", url));
    }

    /** The string value of a JavaScript expression in the page; an exception in the page fails the call. */
    String evaluate(String expression) throws Exception {
        JsonNode result = call("Runtime.evaluate", Map.of("expression", expression, "returnByValue", true));
        if (result.has("exceptionDetails")) {
            throw new IllegalStateException("page threw evaluating " + expression + ": "
                    + result.get("exceptionDetails").path("exception").path("description").asText());
        }
        return result.path("result").path("value").asText();
    }

    /** Console errors, uncaught exceptions and failed or 4xx/5xx requests of the page, in the order they came. */
    List<String> consoleProblems() {
        return List.copyOf(problems);
    }

    void screenshot(Path png) throws Exception {
        String data = call("Page.captureScreenshot", Map.of("format", "png")).path("data").asText();
        Files.write(png, Base64.getDecoder().decode(data));
    }

    @Override
    public void close() {
        socket.abort();
        destroy(process);
    }

    private static void destroy(Process process) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Collects text frames into messages, completes the call waiting for each response id, and records the events
     * that a browser console would show as errors.
     */
    private static final class Listener implements WebSocket.Listener {
        private final Map<Integer, CompletableFuture<JsonNode>> pending;
        private final List<String> problems;
        private final StringBuilder buffer = new StringBuilder();

        Listener(Map<Integer, CompletableFuture<JsonNode>> pending, List<String> problems) {
            this.pending = pending;
            this.problems = problems;
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            buffer.append(data);
            if (last) {
                try {
                    JsonNode message = JSON.readTree(buffer.toString());
                    if (message.has("id")) {
                        CompletableFuture<JsonNode> waiting = pending.remove(message.get("id").asInt());
                        if (waiting != null) {
                            waiting.complete(message);
                        }
                    } else {
                        String problem = problem(message.path("method").asText(), message.path("params"));
                        if (problem != null) {
                            problems.add(problem);
                        }
                    }
                } catch (IOException e) {
                    // events we cannot parse are not responses to our calls
                }
                buffer.setLength(0);
            }
            webSocket.request(1);
            return null;
        }

        private static String problem(String event, JsonNode params) {
            return switch (event) {
                case "Runtime.exceptionThrown" -> "exception: " + params.path("exceptionDetails").path("exception")
                        .path("description").asText(params.path("exceptionDetails").path("text").asText());
                case "Runtime.consoleAPICalled" -> params.path("type").asText().equals("error")
                        ? "console.error: " + params.path("args") : null;
                case "Log.entryAdded" -> params.path("entry").path("level").asText().equals("error")
                        ? "log: " + params.path("entry").path("text").asText() + " " + params.path("entry").path("url").asText()
                        : null;
                case "Network.responseReceived" -> params.path("response").path("status").asInt() >= 400
                        ? "HTTP " + params.path("response").path("status").asInt() + " " + params.path("response").path("url").asText()
                        : null;
                case "Network.loadingFailed" -> params.path("canceled").asBoolean() ? null
                        : "request failed: " + params.path("errorText").asText();
                default -> null;
            };
        }
    }
}
