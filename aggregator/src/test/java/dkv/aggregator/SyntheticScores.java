package dkv.aggregator;

import dkv.avro.AttentionShares;
import dkv.avro.ConditionPair;
import dkv.avro.ExperimentMeta;
import dkv.avro.LayerShares;
import dkv.avro.ModelRef;
import dkv.avro.ScoreRecord;
import dkv.avro.SegmentShares;
import dkv.avro.SegmentTokens;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Score records of a made-up experiment: conditions with known effects, attention on a few layers. */
public final class SyntheticScores {
    public static final String BASELINE = "bare";
    public static final List<String> CONDITIONS = List.of("bare", "oracle", "generated", "shuffled", "suffix");
    public static final int LAYERS = 4;

    private SyntheticScores() {}

    public static ExperimentMeta meta(long plannedSamples) {
        return ExperimentMeta.newBuilder()
                .setBaseline(BASELINE)
                .setOracle("oracle")
                .setContrasts(List.of(new ConditionPair("generated_vs_shuffled", "generated", "shuffled")))
                .setCorrelations(List.of(new ConditionPair("generated|shuffled", "generated", "shuffled")))
                .setPlannedSamples(plannedSamples)
                .setPlannedConditions(CONDITIONS.size())
                .build();
    }

    /** All conditions of samples [from, to), sample by sample. */
    public static List<ScoreRecord> records(String experiment, int from, int to, long plannedSamples, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        ExperimentMeta meta = meta(plannedSamples);
        List<ScoreRecord> out = new ArrayList<>();
        for (int i = from; i < to; i++) {
            String sample = String.format("s%06d", i);
            double base = 1.0 + 3.0 * random.nextDouble();
            double generated = 0.2 + 0.5 * random.nextGaussian();
            for (String condition : CONDITIONS) {
                double effect = switch (condition) {
                    case "oracle" -> 0.5 + 0.5 * random.nextGaussian();
                    case "generated" -> generated;
                    case "shuffled" -> 0.9 * generated + 0.2 * random.nextGaussian();
                    case "suffix" -> 0.05 * random.nextGaussian();
                    default -> 0.0;
                };
                out.add(record(experiment, sample, condition, base - effect, meta, random));
            }
        }
        return out;
    }

    public static ScoreRecord record(String experiment, String sample, String condition, double nll,
                                     ExperimentMeta meta, SplittableRandom random) {
        boolean suffix = condition.equals("suffix");
        List<LayerShares> layers = new ArrayList<>();
        for (int layer = 0; layer < LAYERS; layer++) {
            double query = suffix ? 0.15 : 0.25;
            double bos = 0.3 + 0.05 * layer;
            double sfx = suffix ? 0.1 : 0.0;
            double doc = 1.0 - query - bos - sfx - 0.05;
            layers.add(new LayerShares(layer, null, new SegmentShares((float) bos, 0f, (float) doc, (float) sfx,
                    (float) query, 0.05f)));
        }
        return ScoreRecord.newBuilder()
                .setExperimentId(experiment)
                .setSampleId(sample)
                .setCondition(condition)
                .setModel(new ModelRef("tiny", null))
                .setNllMean(nll)
                .setNllSum(nll * 5)
                .setAnswerTokens(5)
                .setSegments(new SegmentTokens(1, 0, 40, suffix ? 6 : 0, 10, 5, 0))
                .setAttention(new AttentionShares(layers, List.of()))
                .setMeta(meta)
                .setScoredAt(1_700_000_000_000L + random.nextInt(1000))
                .build();
    }
}
