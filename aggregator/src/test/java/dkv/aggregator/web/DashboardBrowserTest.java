package dkv.aggregator.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dkv.aggregator.SyntheticScores;
import dkv.aggregator.service.Aggregator;
import dkv.aggregator.service.PublishCadence;
import dkv.avro.ScoreRecord;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loads the dashboard in headless Chromium against a dashboard fed live by an aggregator, checks that the page
 * rendered values that only arrive over Server-Sent Events, and saves a screenshot to target/dashboard.png.
 * Skipped where Debian's chromium is not installed.
 */
class DashboardBrowserTest {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");

    LiveSnapshots live;
    Dashboard dashboard;
    Thread feeder;
    final AtomicBoolean feeding = new AtomicBoolean(true);

    @BeforeEach
    void start() {
        live = new LiveSnapshots();
        dashboard = Dashboard.start(Dashboard.DEFAULT_HOST, 0, live);
        List<ScoreRecord> records = SyntheticScores.records("exp-live", 0, 400, 400, 21);
        Aggregator aggregator = new Aggregator(new PublishCadence(100, 200), 0.05, System::currentTimeMillis);
        feeder = Thread.ofPlatform().daemon().start(() -> {
            for (ScoreRecord r : records) {
                if (!feeding.get()) {
                    return;
                }
                live.publish(aggregator.accept(r));
                sleep(15);
            }
            live.publish(aggregator.publish());
        });
    }

    @AfterEach
    void stop() throws InterruptedException {
        feeding.set(false);
        feeder.join(5000);
        dashboard.close();
    }

    @Test
    void servesPageChartLibraryAndSnapshots() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(dashboard.url())).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, page.statusCode());
        assertTrue(page.body().contains("/webjars/echarts/5.3.1/dist/echarts.min.js"));
        HttpResponse<byte[]> library = http.send(HttpRequest.newBuilder(
                URI.create(dashboard.url() + "webjars/echarts/5.3.1/dist/echarts.min.js")).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, library.statusCode());
        assertTrue(library.body().length > 500_000, "echarts.min.js from the WebJar");
        HttpResponse<String> missing = http.send(HttpRequest.newBuilder(
                URI.create(dashboard.url() + "webjars/nothing.js")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(404, missing.statusCode());
    }

    @Test
    void chromiumShowsLiveUpdates(@TempDir Path profile) throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM), "no " + CHROMIUM + " (install Debian's chromium to run this test)");
        sleep(1500); // let a few snapshots be published so history and live events both exist
        String dom = chromium(profile, "--dump-dom");
        Matcher records = Pattern.compile("id=\"records\">(\\d+)<").matcher(dom);
        assertTrue(records.find(), "the page shows a record count that arrived over SSE:\n" + head(dom));
        assertTrue(Long.parseLong(records.group(1)) > 0);
        Matcher events = Pattern.compile("id=\"events\">(\\d+)<").matcher(dom);
        assertTrue(events.find() && Integer.parseInt(events.group(1)) >= 2, "history + at least one snapshot event");
        assertTrue(dom.contains("data-condition=\"oracle\""), "condition rows rendered from SSE data");
        assertTrue(dom.contains("<canvas"), "charts rendered");

        Path screenshot = Path.of("target", "dashboard.png").toAbsolutePath();
        Files.deleteIfExists(screenshot);
        chromium(profile, "--screenshot=" + screenshot, "--window-size=1400,1500");
        assertTrue(Files.size(screenshot) > 10_000, "screenshot written: " + screenshot);
    }

    private String chromium(Path profile, String... mode) throws IOException, InterruptedException {
        List<String> command = new java.util.ArrayList<>(List.of(CHROMIUM.toString(), "--headless", "--no-sandbox",
                "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--user-data-dir=" + profile, "--virtual-time-budget=4000"));
        command.addAll(List.of(mode));
        command.add(dashboard.url());
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        byte[] out = process.getInputStream().readAllBytes();
        assertTrue(process.waitFor(90, TimeUnit.SECONDS), "chromium finished");
        return new String(out, java.nio.charset.StandardCharsets.UTF_8);
    }

    private static String head(String text) {
        return text.substring(0, Math.min(2000, text.length()));
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(Duration.ofMillis(millis));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
