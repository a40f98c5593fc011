package dkv.aggregator.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dkv.aggregator.SyntheticScores;
import dkv.aggregator.service.Aggregator;
import dkv.aggregator.service.PublishCadence;
import dkv.aggregator.offline.OfflineAggregation;
import dkv.aggregator.offline.ScoreLines;
import dkv.aggregator.state.Score;
import dkv.avro.ScoreRecord;
import dkv.avro.StatsSnapshot;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
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
        try (ChromiumDevTools browser = ChromiumDevTools.launch(CHROMIUM, profile, 1400, 1500)) {
            browser.navigate(dashboard.url());
            // wait for a live update: the record count must change after the page first showed one
            long first = waitForRecords(browser, 0);
            long later = waitForRecords(browser, first);
            assertTrue(later > first, "records went from " + first + " to " + later + " over SSE");
            assertEquals("live", browser.evaluate("document.getElementById('state').textContent"),
                    "no script error while rendering");
            String dom = browser.evaluate("document.documentElement.outerHTML");
            assertTrue(dom.contains("data-condition=\"oracle\""), "condition rows rendered from SSE data");
            assertTrue(dom.contains("<canvas"), "charts rendered");
            assertEquals("true", browser.evaluate("String(document.getElementById('attention-empty').hidden)"),
                    "attention recorded: no message over the chart");
            // an experiment without attention, correlations or contrasts, whose oracle does nothing, renders too
            live.publish(plainExperiment());
            waitFor(browser, "[...document.getElementById('experiment').options].some(o => o.value === 'exp-plain')",
                    "the second experiment never reached the page's selector");
            browser.evaluate("state.selected = 'exp-plain'; document.getElementById('experiment').value = 'exp-plain'; render(); ''");
            assertEquals("exp-plain", browser.evaluate("document.getElementById('experiment').value"));
            assertEquals("live", browser.evaluate("document.getElementById('state').textContent"));
            assertEquals("false", browser.evaluate("String(document.getElementById('attention-empty').hidden)"));
            String attentionNote = browser.evaluate("document.getElementById('attention-empty').textContent");
            assertTrue(attentionNote.contains("No attention was recorded") && attentionNote.contains("--attention"), attentionNote);
            String shareTitle = browser.evaluate("document.querySelector('tr[data-condition=\"x\"] td.no-share').title");
            assertTrue(shareTitle.contains("indistinguishable from 0"), "hover on the oracle share: " + shareTitle);
            assertEquals("oracle share —: " + shareTitle, browser.evaluate("document.getElementById('oracle-note').textContent"));
            browser.evaluate("state.selected = 'exp-live'; document.getElementById('experiment').value = 'exp-live'; render(); ''");
            assertEquals("true", browser.evaluate("String(document.getElementById('attention-empty').hidden)"));
            // a ranking experiment shows its ranking table; the others hide it
            live.publish(rankingExperiment());
            waitFor(browser, "[...document.getElementById('experiment').options].some(o => o.value === 'rank-tiny')",
                    "the ranking experiment never reached the page's selector");
            browser.evaluate("state.selected = 'rank-tiny'; document.getElementById('experiment').value = 'rank-tiny'; render(); ''");
            assertEquals("false", browser.evaluate("String(document.getElementById('ranking').hidden)"));
            assertEquals("3", browser.evaluate("String(document.querySelectorAll('#rankingTable tbody tr').length)"));
            assertTrue(browser.evaluate("document.querySelector('#rankingTable tr[data-condition=\"better\"]').textContent")
                    .contains("(p 0.1250)"), "Δ with its randomization p");
            assertEquals("live", browser.evaluate("document.getElementById('state').textContent"));
            browser.evaluate("state.selected = 'exp-live'; document.getElementById('experiment').value = 'exp-live'; render(); ''");
            assertEquals("true", browser.evaluate("String(document.getElementById('ranking').hidden)"));
            Matcher events = Pattern.compile("id=\"events\">(\\d+)<").matcher(dom);
            assertTrue(events.find() && Integer.parseInt(events.group(1)) >= 3, "history + snapshot events");
            sleep(500); // let the chart animations settle
            Path screenshot = Path.of("target", "dashboard.png").toAbsolutePath();
            browser.screenshot(screenshot);
            assertTrue(Files.size(screenshot) > 10_000, "screenshot written: " + screenshot);
            assertEquals(List.of(), browser.consoleProblems(), "the browser console shows no errors");
        }
    }

    static StatsSnapshot plainExperiment() {
        List<Score> scores = new java.util.ArrayList<>();
        for (int i = 0; i < 20; i++) {
            scores.add(new Score("exp-plain", "s" + i, "bare", 2.0 + 0.1 * i, 0, null));
            scores.add(new Score("exp-plain", "s" + i, "x", 1.9 + 0.1 * i + 0.05 * (i % 3), 0, null));
            scores.add(new Score("exp-plain", "s" + i, "oracle", 2.0 + 0.1 * i + (i % 2 == 0 ? 0.3 : -0.3), 0, null));
        }
        return OfflineAggregation.run(scores, new OfflineAggregation.Options("bare", "oracle", List.of(), List.of(), 0.05, 0), 1)
                .get("exp-plain");
    }

    /** The smallest experiment of the ranking reference fixture (3 conditions, 6 queries). */
    static StatsSnapshot rankingExperiment() throws Exception {
        Path file = Path.of(DashboardBrowserTest.class.getResource("/reference/ranking_scores.jsonl").toURI());
        List<Score> scores = ScoreLines.read(file, true).stream().filter(s -> s.experimentId().equals("rank-tiny")).toList();
        return OfflineAggregation.run(scores, new OfflineAggregation.Options("bare", null, List.of(), List.of(), 0.05, 0), 1)
                .get("rank-tiny");
    }

    /** Polls the page until it shows more than {@code after} records (SSE data only); returns the count. */
    private static void waitFor(ChromiumDevTools browser, String condition, String failure) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!"true".equals(browser.evaluate("String(" + condition + ")"))) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(failure);
            }
            sleep(100);
        }
    }

    private static long waitForRecords(ChromiumDevTools browser, long after) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            String text = browser.evaluate("(document.getElementById('records') || {}).textContent || ''");
            if (text.matches("\\d+") && Long.parseLong(text) > after) {
                return Long.parseLong(text);
            }
            sleep(100);
        }
        throw new AssertionError("the page never showed more than " + after + " records");
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(Duration.ofMillis(millis));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
