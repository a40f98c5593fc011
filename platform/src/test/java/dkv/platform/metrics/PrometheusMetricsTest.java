package dkv.platform.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.Metrics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

class PrometheusMetricsTest {
    @Test
    void aCounterOnTheGlobalRegistryIsScrapedFromMetrics() throws Exception {
        PrometheusMetrics.registry();
        Metrics.counter("dkv.test.records", "outcome", "processed").increment(3);
        try (PrometheusMetrics endpoint = PrometheusMetrics.serve("127.0.0.1", 0);
             HttpClient client = HttpClient.newHttpClient()) {
            HttpResponse<String> response = client.send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + endpoint.port() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode());
            assertTrue(response.body().contains("dkv_test_records_total{outcome=\"processed\"} 3.0"), response.body());
            assertTrue(response.body().contains("jvm_memory_used_bytes"), "JVM meters are bound");
        }
    }
}
