package dkv.aggregator.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dkv.aggregator.report.DerivedViewsTest;
import dkv.avro.RoutingAgreement;
import dkv.avro.StatsSnapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard in headless Chromium shows a snapshot with derived conditions: rows marked with their kind, the
 * derived summary and routing against the oracle. Skipped where Debian's chromium is not installed.
 */
class DerivedDashboardTest {

    @Test
    void derivedRowsAndRoutingRender(@TempDir Path profile) throws Exception {
        assumeTrue(Files.isExecutable(DashboardBrowserTest.CHROMIUM), "no " + DashboardBrowserTest.CHROMIUM);
        StatsSnapshot snapshot = DerivedViewsTest.routingExperiment();
        LiveSnapshots live = new LiveSnapshots();
        live.publish(List.of(snapshot));
        try (Dashboard dashboard = Dashboard.start(Dashboard.DEFAULT_HOST, 0, live);
             ChromiumDevTools browser = ChromiumDevTools.launch(DashboardBrowserTest.CHROMIUM, profile, 1400, 1500)) {
            browser.navigate(dashboard.url());
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!"true".equals(browser.evaluate("String(!!document.querySelector('#routingTable tbody tr'))"))) {
                assertTrue(System.nanoTime() < deadline, "the routing table never rendered");
                Thread.sleep(100);
            }
            assertEquals("live", browser.evaluate("document.getElementById('state').textContent"), "no script error");
            assertEquals("routed", browser.evaluate(
                    "document.querySelector('#conditions tr[data-condition=\"gen_routed\"]').dataset.derived"));
            assertEquals("best_of", browser.evaluate(
                    "document.querySelector('#conditions tr[data-condition=\"gen_best\"] .badge').textContent"));
            assertEquals("4", browser.evaluate("String(document.querySelectorAll('#conditions tr[data-derived]').length)"),
                    "scored rows carry no mark");
            assertEquals("rank_average", browser.evaluate(
                    "document.querySelector('#conditions tr[data-condition=\"pool_rank\"]').dataset.derived"));
            assertEquals("false", browser.evaluate("String(!!document.querySelector('#conditions tr[data-condition=\"bare_qnll\"]'))"),
                    "a signal is not compared");
            assertEquals("false", browser.evaluate("String(document.getElementById('derived').hidden)"));
            assertEquals("4", browser.evaluate("String(document.querySelectorAll('#derivedTable tbody tr').length)"));
            String members = browser.evaluate("document.querySelector('#derivedTable tr[data-derived=\"pool_rank\"] td.members').textContent");
            assertTrue(members.startsWith("bare via bare_qnll (" + snapshot.getDerived().get(2).getMemberPicks().getFirst() + "), "),
                    members);
            assertEquals("pool_rank vs pool_best", browser.evaluate(
                    "document.querySelector('#routingTable tr[data-routing=\"pool_rank\"] td').textContent"));
            RoutingAgreement r = snapshot.getRouting().getFirst();
            assertEquals(String.format(Locale.ROOT, "%.1f%%", 100 * r.getAgreement()),
                    browser.evaluate("document.querySelector('#routingTable td.agreement').textContent"));
            assertEquals(String.format(Locale.ROOT, "%.1f%%", 100 * r.getGapClosed()),
                    browser.evaluate("document.querySelector('#routingTable td.gap-closed').textContent"));
            assertEquals(List.of(), browser.consoleProblems(), "the browser console shows no errors");
        }
    }
}
