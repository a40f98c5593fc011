package dkv.cli;

import dkv.aggregator.json.StatsJson;
import dkv.aggregator.offline.OfflineAggregation;
import dkv.aggregator.offline.ScoreLines;
import dkv.aggregator.state.ExperimentPlan;
import dkv.avro.StatsSnapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Offline re-analysis: score JSON lines in, the aggregator's statistics as JSON out. */
@Command(name = "aggregate", mixinStandardHelpOptions = true,
        description = "Compute paired statistics offline from score JSON lines "
                + "(experiment_id, sample_id, condition, nll).")
public final class AggregateCommand implements Callable<Integer> {

    @Option(names = "--scores", required = true, description = "score JSON lines file")
    Path scores;

    @Option(names = "--baseline", required = true, description = "condition every other is compared with")
    String baseline;

    @Option(names = "--oracle", description = "condition whose mean δ is the oracle gap")
    String oracle;

    @Option(names = "--correlate", description = "A:B — Pearson/Spearman r between the δ of A and B (repeatable)")
    List<String> correlate = new ArrayList<>();

    @Option(names = "--contrast", description = "NAME=A:B — δ = NLL_B − NLL_A (repeatable)")
    List<String> contrast = new ArrayList<>();

    @Option(names = "--alpha", defaultValue = "0.05", description = "confidence-sequence α (default ${DEFAULT-VALUE})")
    double alpha;

    @Option(names = "--n-star", defaultValue = "0",
            description = "confidence-sequence tuning sample size N* (default: each experiment's sample count)")
    double nStar;

    @Option(names = "--out", required = true, description = "output JSON file")
    Path out;

    @Override
    public Integer call() throws Exception {
        var options = new OfflineAggregation.Options(baseline, oracle,
                contrast.stream().map(ExperimentPlan.Pair::parse).toList(),
                correlate.stream().map(ExperimentPlan.Pair::parse).toList(), alpha, nStar);
        Map<String, StatsSnapshot> snapshots;
        try {
            snapshots = OfflineAggregation.run(ScoreLines.read(scores), options, System.currentTimeMillis());
        } catch (IllegalArgumentException e) {
            System.err.println("dkv aggregate: " + e.getMessage());
            return 1;
        }
        if (out.getParent() != null) {
            Files.createDirectories(out.getParent());
        }
        StatsJson.MAPPER.writerWithDefaultPrettyPrinter().writeValue(out.toFile(), StatsJson.experiments(snapshots));
        snapshots.forEach((id, s) -> System.err.printf("%s: %d records, %d samples, %d conditions%n",
                id, s.getRecords(), s.getSamples(), s.getConditions().size()));
        return 0;
    }
}
