package dkv.cli;

import dkv.platform.metrics.PrometheusMetrics;
import java.io.PrintWriter;
import picocli.CommandLine.Option;

/** Where a long-running service serves Prometheus {@code /metrics}, shared by {@code dkv scorer} and {@code dkv aggregator}. */
public final class MetricsEndpointOptions {

    @Option(names = "--metrics-port", paramLabel = "PORT",
            description = "serve Prometheus /metrics on this port (0: a free one; -1 or absent: none)")
    Integer port;

    // loopback unless asked: inside a container (compose, k8s) the scraper is on another host, so 0.0.0.0 there
    @Option(names = "--metrics-host", paramLabel = "HOST", defaultValue = "127.0.0.1",
            description = "bind address of /metrics (default: ${DEFAULT-VALUE}; 0.0.0.0 to be scraped from outside)")
    String host;

    /** The endpoint, started and announced on {@code out} as {@code service: metrics on URL}; null when none was asked. */
    PrometheusMetrics start(PrintWriter out, String service) {
        if (port == null || port < 0) return null;
        PrometheusMetrics endpoint = PrometheusMetrics.serve(host, port);
        out.println(service + ": metrics on http://" + host + ":" + endpoint.port() + "/metrics");
        out.flush();
        return endpoint;
    }
}
