package dkv.cli;

import dkv.aggregator.json.StatsJson;
import dkv.aggregator.offline.OfflineAggregation;
import dkv.aggregator.offline.ScoreLines;
import dkv.aggregator.state.ExperimentPlan;
import dkv.avro.StatsSnapshot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Offline re-analysis: score JSON lines in, the aggregator's statistics as JSON out. */
@Command(name = "aggregate", mixinStandardHelpOptions = true,
        description = "Compute paired statistics offline from score JSON lines "
                + "(experiment_id, sample_id, condition, nll; query_similarity for routed and rank_average derived "
                + "conditions).")
public final class AggregateCommand implements Callable<Integer> {

    /** How to analyse a score file; shared with {@code dkv report --scores}. */
    public static final class Analysis {
        @Option(names = "--scores", description = "score JSON lines file (experiment_id, sample_id, condition, nll)")
        Path scores;

        @Option(names = "--baseline", description = "condition every other is compared with")
        String baseline;

        @Option(names = "--oracle", description = "condition whose mean δ is the oracle gap")
        String oracle;

        @Option(names = "--correlate", paramLabel = "A:B",
                description = "Pearson/Spearman r between the δ of A and B (repeatable)")
        List<String> correlate = new ArrayList<>();

        @Option(names = "--contrast", paramLabel = "NAME=A:B", description = "δ = NLL_B − NLL_A (repeatable)")
        List<String> contrast = new ArrayList<>();

        @Option(names = "--derived", paramLabel = "NAME=KIND:A,B,...[/SA,SB,...]",
                description = "a derived condition picked per sample among scored members (repeatable): routed = highest "
                        + "query_similarity, best_of = lowest NLL, routed_by_nll = lowest NLL of the member's signal, "
                        + "rank_average = best mean of the query_similarity rank and the signal rank (average ranks); "
                        + "the signals (conditions scoring the query on each member's cache, in members order) follow "
                        + "a slash; ties go to the member listed first")
        List<String> derived = new ArrayList<>();

        @Option(names = "--alpha", defaultValue = "0.05", description = "confidence-sequence α (default ${DEFAULT-VALUE})")
        double alpha;

        @Option(names = "--ranking", description = "every line is a ranking score (candidate_id, relevance, optional "
                + "query_id): adds AUC, MRR@10, nDCG@10 per condition and their comparisons with the baseline")
        boolean ranking;

        @Option(names = "--n-star", defaultValue = "0",
                description = "confidence-sequence tuning sample size N* (default: each experiment's sample count)")
        double nStar;

        /** Every experiment's snapshot; a bad file or option throws IllegalArgumentException naming it. */
        Map<String, StatsSnapshot> run() throws IOException {
            if (scores == null || baseline == null) {
                throw new IllegalArgumentException("--scores FILE and --baseline NAME are required");
            }
            var options = new OfflineAggregation.Options(baseline, oracle,
                    contrast.stream().map(ExperimentPlan.Pair::parse).toList(),
                    correlate.stream().map(ExperimentPlan.Pair::parse).toList(), alpha, nStar,
                    derived.stream().map(ExperimentPlan.Derived::parse).toList());
            try {
                return OfflineAggregation.run(ScoreLines.read(scores, ranking), options, System.currentTimeMillis());
            } catch (NoSuchFileException e) {
                throw new IllegalArgumentException("scores file " + scores + " does not exist");
            }
        }
    }

    @Mixin
    Analysis analysis;

    @Option(names = "--out", required = true, description = "output JSON file")
    Path out;

    @Override
    public Integer call() throws IOException {
        Map<String, StatsSnapshot> snapshots;
        try {
            snapshots = analysis.run();
        } catch (IllegalArgumentException e) {
            System.err.println("dkv aggregate: " + e.getMessage());
            return 1;
        }
        if (out.getParent() != null) {
            Files.createDirectories(out.getParent());
        }
        StatsJson.MAPPER.writerWithDefaultPrettyPrinter().writeValue(out.toFile(), StatsJson.experiments(snapshots));
        snapshots.forEach((id, s) -> System.err.printf("%s: %d records, %d samples, %d conditions%s%s%n",
                id, s.getRecords(), s.getSamples(), s.getConditions().size(), s.getRanking() == null ? ""
                        : String.format(", %d queries (%d without both classes, excluded from AUC)",
                                s.getRanking().getQueries(), s.getRanking().getOneClassQueries()),
                derivedSummary(s)));
        return 0;
    }

    /** Unroutable samples are easy to miss in the JSON: a similarity router over fewer samples than expected. */
    private static String derivedSummary(StatsSnapshot s) {
        StringBuilder out = new StringBuilder();
        s.getDerived().forEach(d -> out.append(String.format(", %s: %d samples%s", d.getName(), d.getSamples(),
                d.getUnroutableSamples() == 0 ? "" : " (" + d.getUnroutableSamples() + " unroutable: no query_similarity)")));
        return out.toString();
    }
}
