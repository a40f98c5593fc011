package dkv.platform.metrics;

import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.Metrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

/**
 * The process's Prometheus registry, added to Micrometer's global registry so that every meter
 * registered through {@link Metrics#globalRegistry} (the platform's defaults) is scraped, plus a
 * {@code /metrics} endpoint on the JDK's built-in HTTP server (no extra dependency).
 */
public final class PrometheusMetrics implements AutoCloseable {
    private static final Object LOCK = new Object();
    private static PrometheusMeterRegistry shared;

    private final HttpServer server;

    private PrometheusMetrics(HttpServer server) {
        this.server = server;
    }

    /** The one Prometheus registry of this JVM, created and added to the global registry on first use. */
    public static PrometheusMeterRegistry registry() {
        synchronized (LOCK) {
            if (shared == null) {
                shared = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
                new JvmMemoryMetrics().bindTo(shared);
                new JvmGcMetrics().bindTo(shared);
                new JvmThreadMetrics().bindTo(shared);
                new ProcessorMetrics().bindTo(shared);
                Metrics.addRegistry(shared);
            }
            return shared;
        }
    }

    /**
     * Serves {@code GET /metrics} in the Prometheus text format.
     *
     * @param host bind address; 127.0.0.1 unless the endpoint must be reachable from outside
     * @param port 0 picks a free port (see {@link #port()})
     */
    public static PrometheusMetrics serve(String host, int port) {
        PrometheusMeterRegistry registry = registry();
        try {
            HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 0);
            server.createContext("/metrics", exchange -> {
                try (exchange) {
                    if (!exchange.getRequestMethod().equals("GET")) {
                        exchange.sendResponseHeaders(405, -1);
                        return;
                    }
                    byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
                    exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                    exchange.sendResponseHeaders(200, body.length);
                    try (OutputStream out = exchange.getResponseBody()) {
                        out.write(body);
                    }
                }
            });
            server.setExecutor(Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().name("dkv-metrics-http").daemon(true).unstarted(r)));
            server.start();
            return new PrometheusMetrics(server);
        } catch (IOException e) {
            throw new UncheckedIOException("metrics endpoint: cannot listen on " + host + ":" + port, e);
        }
    }

    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
