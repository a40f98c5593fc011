package dkv.cli;

import dkv.aggregator.tail.StatsTable;
import dkv.aggregator.tail.StatsTopicReader;
import dkv.avro.StatsSnapshot;
import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Like top: the latest statistics of each experiment from dkv.stats, redrawn as new snapshots arrive. */
@Command(name = "tail", mixinStandardHelpOptions = true,
        description = "Live terminal table of an experiment's statistics from dkv.stats.")
public final class TailCommand implements Callable<Integer> {
    private static final String CLEAR = "\033[H\033[2J";

    @Mixin
    KafkaOptions kafka;

    @Option(names = "--experiment", description = "only this experiment (default: all)")
    String experiment;

    @Option(names = "--once", description = "print the current table and exit")
    boolean once;

    @Option(names = "--refresh-ms", defaultValue = "500", description = "least time between redraws (default ${DEFAULT-VALUE})")
    long refreshMillis;

    @Option(names = "--alpha", defaultValue = "0.05", description = "level at which a condition is called helps/hurts")
    double alpha;

    @Option(names = "--stats-topic", defaultValue = dkv.schemas.Topics.STATS, description = "default ${DEFAULT-VALUE}")
    String statsTopic;

    @Override
    public Integer call() {
        try (StatsTopicReader reader = new StatsTopicReader(kafka.settings("dkv-tail"), statsTopic, "tail")) {
            if (once) {
                if (!reader.readToEnd(Duration.ofSeconds(60))) {
                    System.err.println("dkv tail: could not read " + statsTopic + " to its end within 60 s");
                    return 1;
                }
                List<StatsSnapshot> shown = selected(reader);
                if (shown.isEmpty()) {
                    System.err.println("dkv tail: no statistics" + (experiment == null ? "" : " for experiment '" + experiment + "'"));
                    return 1;
                }
                print(System.out, shown);
                return 0;
            }
            Thread main = Thread.currentThread();
            Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
                reader.wakeup();
                try {
                    main.join(2000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
            long lastDraw = 0;
            boolean dirty = true;
            while (true) {
                dirty |= reader.poll(Duration.ofMillis(200));
                if (dirty && System.currentTimeMillis() - lastDraw >= refreshMillis) {
                    System.out.print(CLEAR);
                    List<StatsSnapshot> shown = selected(reader);
                    if (shown.isEmpty()) {
                        System.out.println("waiting for statistics on " + statsTopic + " …");
                    }
                    print(System.out, shown);
                    System.out.flush();
                    lastDraw = System.currentTimeMillis();
                    dirty = false;
                }
            }
        } catch (org.apache.kafka.common.errors.WakeupException e) {
            return 0;
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("dkv tail: " + e.getMessage());
            return 1;
        }
    }

    private List<StatsSnapshot> selected(StatsTopicReader reader) {
        return reader.latest().values().stream()
                .filter(s -> experiment == null || s.getExperimentId().equals(experiment)).toList();
    }

    private void print(PrintStream out, List<StatsSnapshot> snapshots) {
        for (StatsSnapshot s : snapshots) {
            out.println(StatsTable.render(s, alpha));
        }
    }
}
