package dkv.cli;

import dkv.aggregator.report.MarkdownReport;
import dkv.aggregator.tail.StatsTopicReader;
import dkv.avro.StatsSnapshot;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** A Markdown report with SVG charts, from the latest snapshot on dkv.stats or from a score file. */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = "Write a Markdown report with charts for an experiment: from dkv.stats (--bootstrap), "
                + "or from a score file (--scores FILE --baseline NAME ...).")
public final class ReportCommand implements Callable<Integer> {

    @Option(names = "--experiment", required = true, description = "experiment id")
    String experiment;

    @Option(names = "--out", required = true, description = "output directory (report.md and its charts)")
    Path out;

    @Option(names = "--stats-topic", defaultValue = dkv.schemas.Topics.STATS, description = "default ${DEFAULT-VALUE}")
    String statsTopic;

    @Mixin
    KafkaOptions kafka;

    @Mixin
    AggregateCommand.Analysis analysis;

    @Override
    public Integer call() throws Exception {
        StatsSnapshot snapshot;
        try {
            snapshot = analysis.scores != null ? analysis.run().get(experiment) : fromTopic();
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("dkv report: " + e.getMessage());
            return 1;
        }
        if (snapshot == null) {
            System.err.println("dkv report: no statistics for experiment '" + experiment + "'");
            return 1;
        }
        Path file = MarkdownReport.write(snapshot, out);
        System.out.println(file);
        return 0;
    }

    private StatsSnapshot fromTopic() {
        try (StatsTopicReader reader = new StatsTopicReader(kafka.settings("dkv-report"), statsTopic, "report")) {
            if (!reader.readToEnd(Duration.ofSeconds(60))) {
                throw new IllegalStateException("could not read " + statsTopic + " to its end within 60 s");
            }
            Map<String, StatsSnapshot> latest = reader.latest();
            return latest.get(experiment);
        }
    }
}
