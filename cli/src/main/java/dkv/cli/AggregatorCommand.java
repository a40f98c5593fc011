package dkv.cli;

import dkv.aggregator.service.AggregatorService;
import dkv.aggregator.service.PublishCadence;
import dkv.aggregator.web.Dashboard;
import dkv.aggregator.web.LiveSnapshots;
import dkv.platform.metrics.PrometheusMetrics;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The aggregator service: dkv.scores in, dkv.stats out, and the live dashboard. Runs until stopped. */
@Command(name = "aggregator", mixinStandardHelpOptions = true,
        description = "Run the aggregator service: dkv.scores -> dkv.stats, dashboard.")
public final class AggregatorCommand implements Callable<Integer> {

    @Mixin
    KafkaOptions kafka;

    @Option(names = "--publish-every-records", defaultValue = "50000",
            description = "publish after this many new records (default ${DEFAULT-VALUE})")
    long everyRecords;

    @Option(names = "--publish-every-ms", defaultValue = "1000",
            description = "publish at least this often while records arrive (default ${DEFAULT-VALUE})")
    long everyMillis;

    @Option(names = "--alpha", defaultValue = "0.05", description = "confidence-sequence α (default ${DEFAULT-VALUE})")
    double alpha;

    @Option(names = "--http-host", defaultValue = Dashboard.DEFAULT_HOST, description = "dashboard address (default ${DEFAULT-VALUE})")
    String httpHost;

    @Option(names = "--http-port", defaultValue = "8080", description = "dashboard port; 0 picks a free one, -1 disables it (default ${DEFAULT-VALUE})")
    int httpPort;

    @Mixin
    MetricsEndpointOptions metricsEndpoint;

    @Option(names = "--scores-topic", defaultValue = dkv.schemas.Topics.SCORES, description = "default ${DEFAULT-VALUE}")
    String scoresTopic;

    @Option(names = "--stats-topic", defaultValue = dkv.schemas.Topics.STATS, description = "default ${DEFAULT-VALUE}")
    String statsTopic;

    @Override
    public Integer call() throws InterruptedException {
        LiveSnapshots live = new LiveSnapshots();
        AggregatorService service;
        Dashboard dashboard = null;
        PrometheusMetrics metrics = null;
        try {
            metrics = metricsEndpoint.start(new PrintWriter(System.out, true), "dkv aggregator");
            PublishCadence cadence = new PublishCadence(everyRecords, everyMillis);
            service = AggregatorService.start(kafka.settings("dkv-aggregator"), scoresTopic, statsTopic, cadence, alpha, live);
            if (httpPort >= 0) {
                dashboard = Dashboard.start(httpHost, httpPort, live);
                System.out.println("dkv aggregator: dashboard at " + dashboard.url());
            }
        } catch (IllegalArgumentException | IllegalStateException | java.io.UncheckedIOException e) {
            System.err.println("dkv aggregator: " + e.getMessage());
            if (metrics != null) {
                metrics.close();
            }
            return 1;
        }
        CountDownLatch stop = new CountDownLatch(1);
        Dashboard web = dashboard;
        PrometheusMetrics scrape = metrics;
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            service.close();
            if (web != null) {
                web.close();
            }
            if (scrape != null) {
                scrape.close();
            }
            stop.countDown();
        }));
        stop.await();
        return 0;
    }
}
