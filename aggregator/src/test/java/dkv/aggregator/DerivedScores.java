package dkv.aggregator;

import dkv.avro.DerivedCondition;
import dkv.avro.DerivedKind;
import dkv.avro.ExperimentMeta;
import dkv.avro.ScoreRecord;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Score records of a made-up routing experiment: a baseline and three generated surrogates whose query
 * similarities track their effect loosely, with {@code routed} and {@code best} derived over the three.
 */
public final class DerivedScores {
    public static final List<String> MEMBERS = List.of("gen_a", "gen_b", "gen_c");
    public static final List<String> SCORED = List.of("bare", "gen_a", "gen_b", "gen_c");

    private DerivedScores() {}

    public static ExperimentMeta meta(long plannedSamples) {
        return ExperimentMeta.newBuilder()
                .setBaseline("bare")
                .setOracle("best")
                .setContrasts(List.of())
                .setCorrelations(List.of())
                .setPlannedSamples(plannedSamples)
                .setPlannedConditions(SCORED.size())
                .setDerived(List.of(new DerivedCondition("routed", DerivedKind.ROUTED, MEMBERS, List.of()),
                        new DerivedCondition("best", DerivedKind.BEST_OF, MEMBERS, List.of())))
                .build();
    }

    /** Every scored condition of samples [0, n), sample by sample. */
    public static List<ScoreRecord> records(String experiment, int n, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        ExperimentMeta meta = meta(n);
        List<ScoreRecord> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String sample = String.format("s%05d", i);
            double base = 1.0 + 3.0 * random.nextDouble();
            for (String condition : SCORED) {
                double effect = condition.equals("bare") ? 0.0 : 0.2 + 0.5 * random.nextGaussian();
                Double similarity = condition.equals("bare") ? null : 0.5 + 0.2 * effect + 0.1 * random.nextGaussian();
                out.add(ScoreRecord.newBuilder(SyntheticScores.record(experiment, sample, condition, base - effect, meta,
                        random)).setAttention(null).setQuerySimilarity(similarity).build());
            }
        }
        return out;
    }
}
