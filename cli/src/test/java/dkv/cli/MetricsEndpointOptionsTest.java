package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.platform.metrics.PrometheusMetrics;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Both services take the same /metrics options; containers need them on all interfaces (docker-compose, k8s). */
class MetricsEndpointOptionsTest {

    @Test
    void theAggregatorServesMetricsOnTheHostItIsGiven() throws Exception {
        AggregatorCommand aggregator = new AggregatorCommand();
        new CommandLine(aggregator).parseArgs("--metrics-host", "0.0.0.0", "--metrics-port", "0");
        StringWriter said = new StringWriter();
        try (PrometheusMetrics endpoint = aggregator.metricsEndpoint.start(new PrintWriter(said), "dkv aggregator")) {
            assertEquals("dkv aggregator: metrics on http://0.0.0.0:" + endpoint.port() + "/metrics", said.toString().strip());
            HttpResponse<String> scrape = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + endpoint.port() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, scrape.statusCode());
            assertTrue(scrape.body().contains("jvm_"), "JVM meters are registered");
        }
    }

    @Test
    void noPortOrMinusOneServesNothingAndLoopbackIsTheDefault() {
        for (String[] args : new String[][] {{"--model", "m"}, {"--model", "m", "--metrics-port", "-1"}}) {
            ScorerCommand scorer = new ScorerCommand();
            new CommandLine(scorer).parseArgs(args);
            assertEquals("127.0.0.1", scorer.metricsEndpoint.host);
            assertNull(scorer.metricsEndpoint.start(new PrintWriter(new StringWriter()), "dkv scorer"));
        }
    }
}
