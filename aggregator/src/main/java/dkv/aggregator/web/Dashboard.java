package dkv.aggregator.web;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.aggregator.json.StatsJson;
import dkv.avro.StatsSnapshot;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * The live dashboard: one static page (charts from the ECharts WebJar, served from the classpath — no CDN) that
 * receives snapshots as Server-Sent Events. Routes: {@code /} the page, {@code /events} the SSE stream (a
 * {@code history} event, then every snapshot as a {@code snapshot} event), {@code /api/snapshots} the latest
 * snapshots as JSON, {@code /webjars/**} the chart library.
 */
public final class Dashboard implements AutoCloseable {
    public static final String DEFAULT_HOST = "127.0.0.1";
    private static final String PAGE = "/dkv/aggregator/web/index.html";
    private static final Duration HEARTBEAT = Duration.ofSeconds(15);

    private final DisposableServer server;
    private final Map<String, byte[]> assets = new ConcurrentHashMap<>();

    private Dashboard(DisposableServer server) {
        this.server = server;
    }

    /** Binds {@code host:port} (port 0 picks a free one) and serves {@code live}. */
    public static Dashboard start(String host, int port, LiveSnapshots live) {
        Dashboard[] self = new Dashboard[1];
        DisposableServer server = HttpServer.create().host(host).port(port)
                .route(routes -> routes
                        .get("/", (req, res) -> self[0].asset(res, PAGE, "text/html; charset=utf-8"))
                        .get("/index.html", (req, res) -> self[0].asset(res, PAGE, "text/html; charset=utf-8"))
                        .get("/api/snapshots", (req, res) -> res.header(HttpHeaderNames.CONTENT_TYPE, "application/json")
                                .sendString(Mono.fromCallable(() -> json(StatsJson.experiments(live.latest())))))
                        .get("/events", (req, res) -> events(res, live))
                        .get("/webjars/**", (req, res) -> self[0].webjar(req, res)))
                .bindNow();
        self[0] = new Dashboard(server);
        return self[0];
    }

    public int port() {
        return server.port();
    }

    public String url() {
        return "http://" + server.host() + ":" + server.port() + "/";
    }

    private static Publisher<Void> events(HttpServerResponse res, LiveSnapshots live) {
        Flux<String> history = Mono.fromCallable(() -> sse("history", json(live.history()))).flux();
        Flux<String> current = Flux.defer(() -> Flux.fromIterable(live.latest().values())).map(Dashboard::snapshotEvent);
        Flux<String> updates = live.updates().onBackpressureLatest().map(Dashboard::snapshotEvent);
        Flux<String> heartbeat = Flux.interval(HEARTBEAT).map(i -> ": heartbeat\n\n");
        Flux<ByteBuf> stream = Flux.concat(history, current, Flux.merge(updates, heartbeat))
                .map(text -> Unpooled.wrappedBuffer(text.getBytes(StandardCharsets.UTF_8)));
        // flush after every event so the browser sees it at once
        return res.sse().send(stream, buffer -> true);
    }

    private static String snapshotEvent(StatsSnapshot s) {
        return sse("snapshot", json(StatsJson.experiment(s)));
    }

    private static String sse(String event, String data) {
        return "event: " + event + "\ndata: " + data + "\n\n";
    }

    private static String json(ObjectNode node) {
        try {
            return StatsJson.MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write dashboard JSON", e);
        }
    }

    private Publisher<Void> webjar(HttpServerRequest req, HttpServerResponse res) {
        String path = req.path();
        if (path.contains("..")) {
            return res.status(HttpResponseStatus.BAD_REQUEST).send();
        }
        String type = path.endsWith(".js") ? "application/javascript" : "application/octet-stream";
        return asset(res, "/META-INF/resources/" + path, type);
    }

    private Publisher<Void> asset(HttpServerResponse res, String resource, String type) {
        byte[] bytes = assets.computeIfAbsent(resource, Dashboard::read);
        if (bytes.length == 0) {
            return res.status(HttpResponseStatus.NOT_FOUND).sendString(Mono.just("not found: " + resource));
        }
        return res.header(HttpHeaderNames.CONTENT_TYPE, type).sendByteArray(Mono.just(bytes));
    }

    private static byte[] read(String resource) {
        try (InputStream in = Dashboard.class.getResourceAsStream(resource)) {
            return in == null ? new byte[0] : in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read dashboard asset " + resource, e);
        }
    }

    @Override
    public void close() {
        server.disposeNow();
    }
}
