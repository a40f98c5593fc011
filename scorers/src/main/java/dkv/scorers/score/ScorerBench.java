package dkv.scorers.score;

import dkv.avro.ConditionSpec;
import dkv.avro.Placement;
import dkv.avro.RopeCorrection;
import dkv.avro.Sample;
import dkv.avro.ScoreRecord;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.TorchRuntime;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;

/**
 * Throughput of {@link SampleScorer} (pairs = sample x condition scored per second) on the workload of ops/gpu/bench (README there)
 * shape: 8 conditions per sample and synthetic texts from a fixed word list ({@code --passage-words},
 * {@code --surrogate-words}, {@code --query-words}, {@code --answer-words}; the token counts are printed). Prints one line per
 * configuration ({@code --max-batch} rows per forward x {@code --per-call} samples per
 * {@link SampleScorer#scoreAll} call; {@code --max-tokens} padded tokens per forward at most), timed after one
 * warm-up call. First, per configuration, the largest NLL difference against one forward at a time on the first
 * {@code --invariance-samples} samples (issue 8's batch invariance on the benchmark's own model and device).
 * {@code --profile true} repeats each timed run with every forward synchronized and prints where the time went
 * ({@link ForwardProfile}).
 *
 * <pre>java -cp ... dkv.scorers.score.ScorerBench --model DIR --device cuda:0 --dtype bfloat16 --samples 32 --max-batch 1,64 --per-call 1,8</pre>
 */
public final class ScorerBench {

    private static final String[] WORDS = ("the water boils at degrees sea level air pressure lower higher altitude city "
            + "theory book written published species natural selection evolve population generation egg minutes soft hard "
            + "cold peeling time light blue sky scattered molecules waves red short long day night river mountain "
            + "history war king country law court money bank price market energy power heat engine car road").split(" ");

    private ScorerBench() {
    }

    public static void main(String[] args) {
        Path modelDir = null;
        Device device = Device.cpu();
        DType dtype = DType.FLOAT32;
        int samples = 8;
        List<Integer> perCall = List.of(1);
        int passageWords = 75;
        int surrogateWords = 8;
        int queryWords = 20;
        int answerWords = 10;
        List<Integer> maxBatches = List.of(1, 32);
        int maxTokens = ScoreOptions.DEFAULT_MAX_TOKENS;
        int invarianceSamples = 4;
        boolean profile = false;
        for (int i = 0; i + 1 < args.length; i += 2) {
            String v = args[i + 1];
            switch (args[i]) {
                case "--model" -> modelDir = Path.of(v);
                case "--device" -> device = Device.parse(v);
                case "--dtype" -> dtype = DType.parse(v);
                case "--samples" -> samples = Integer.parseInt(v);
                case "--per-call" -> perCall = java.util.Arrays.stream(v.split(",")).map(Integer::parseInt).toList();
                case "--passage-words" -> passageWords = Integer.parseInt(v);
                case "--surrogate-words" -> surrogateWords = Integer.parseInt(v);
                case "--query-words" -> queryWords = Integer.parseInt(v);
                case "--answer-words" -> answerWords = Integer.parseInt(v);
                case "--max-tokens" -> maxTokens = Integer.parseInt(v);
                case "--invariance-samples" -> invarianceSamples = Integer.parseInt(v);
                case "--profile" -> profile = Boolean.parseBoolean(v);
                case "--max-batch" -> maxBatches = java.util.Arrays.stream(v.split(",")).map(Integer::parseInt).toList();
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (modelDir == null || args.length % 2 != 0) {
            System.err.println("usage: ScorerBench --model DIR [--device cpu|cuda:N] [--dtype float32|bfloat16] [--samples N]"
                    + " [--passage-words N] [--surrogate-words N] [--query-words N] [--answer-words N]"
                    + " [--max-batch 1,32] [--max-tokens N] [--per-call 1,8] [--invariance-samples 4] [--profile true]");
            System.exit(2);
        }
        TorchRuntime runtime = TorchRuntime.load(Optional.empty());
        runtime.requireDevice(device);
        System.out.println(runtime.describe());
        Random random = new Random(42);
        List<SampleScorer.SampleWork> work = new ArrayList<>();
        for (int s = 0; s < samples; s++) {
            Sample sample = Sample.newBuilder().setId("b" + s).setDataset("bench").setQuery(words(random, queryWords))
                    .setPassage(words(random, passageWords) + ".").setAnswer(words(random, answerWords)).build();
            work.add(new SampleScorer.SampleWork(sample, conditions(words(random, surrogateWords))));
        }
        try (CausalLm model = ModelFamilies.loadCausal(modelDir, device, dtype)) {
            SampleScorer scorer = new SampleScorer(model);
            List<SampleScorer.SampleWork> checked = work.subList(0, Math.min(invarianceSamples, work.size()));
            List<List<ScoreRecord>> oneAtATime = checked.isEmpty() ? List.of()
                    : scorer.scoreAll(checked, ScoreOptions.defaults().withMaxBatch(1));
            for (int maxBatch : maxBatches) {
                for (int group : perCall) {
                    ScoreOptions options = ScoreOptions.defaults().withMaxBatch(maxBatch).withMaxTokens(maxTokens);
                    if (!checked.isEmpty()) {
                        System.out.printf(Locale.ROOT, "batch invariance max-batch %d per-call %d vs one forward at a time, %d samples:"
                                + " max |dNLL| %.3g%n", maxBatch, group, checked.size(), maxNllDelta(oneAtATime, batched(scorer, checked, group, options)));
                    }
                    scorer.scoreAll(work.subList(0, Math.min(group, work.size())), options);  // warm-up
                    runtime.cudaSynchronize();
                    long t0 = System.nanoTime();
                    int pairs = 0;
                    int[] tokens = new int[3];
                    for (int from = 0; from < work.size(); from += group) {
                        for (List<ScoreRecord> records : scorer.scoreAll(work.subList(from, Math.min(work.size(), from + group)), options)) {
                            pairs += records.size();
                            tokens[0] += records.getFirst().getSegments().getDocument();
                            tokens[1] += records.getFirst().getSegments().getQuery();
                            tokens[2] += records.getFirst().getSegments().getAnswer();
                        }
                    }
                    runtime.cudaSynchronize();
                    double seconds = (System.nanoTime() - t0) / 1e9;
                    System.out.printf(Locale.ROOT, "model %s %s %s max-batch %d per-call %d: %d samples x %d conditions"
                                    + " in %.2f s = %.1f pairs/s (mean tokens: document %.0f, query %.0f, answer %.0f)%n",
                            modelDir.getFileName(), device, dtype, maxBatch, group, samples, pairs / samples, seconds,
                            pairs / seconds, tokens[0] / (double) samples, tokens[1] / (double) samples,
                            tokens[2] / (double) samples);
                    if (profile) profiled(runtime, scorer, work, group, options);
                }
            }
        }
    }

    /** The same run again with every forward bracketed by synchronizations: where the time goes. */
    private static void profiled(TorchRuntime runtime, SampleScorer scorer, List<SampleScorer.SampleWork> work, int group,
                                 ScoreOptions options) {
        ForwardProfile profile = new ForwardProfile(runtime);
        scorer.profile(profile);
        try {
            runtime.cudaSynchronize();
            long t0 = System.nanoTime();
            batched(scorer, work, group, options);
            runtime.cudaSynchronize();
            System.out.print("  profile (forwards synchronized, so slower than above):\n"
                    + profile.report((System.nanoTime() - t0) / 1e9));
        } finally {
            scorer.profile(null);
        }
    }

    private static List<List<ScoreRecord>> batched(SampleScorer scorer, List<SampleScorer.SampleWork> work, int group,
                                                   ScoreOptions options) {
        List<List<ScoreRecord>> out = new ArrayList<>();
        for (int from = 0; from < work.size(); from += group) {
            out.addAll(scorer.scoreAll(work.subList(from, Math.min(work.size(), from + group)), options));
        }
        return out;
    }

    private static double maxNllDelta(List<List<ScoreRecord>> a, List<List<ScoreRecord>> b) {
        double worst = 0;
        for (int s = 0; s < a.size(); s++) {
            for (int c = 0; c < a.get(s).size(); c++) {
                worst = Math.max(worst, Math.abs(a.get(s).get(c).getNllMean() - b.get(s).get(c).getNllMean()));
            }
        }
        return worst;
    }

    /** The 8 conditions of the ops/gpu/bench workload: bare, query-free, full and truncated prefixes, suffixes. */
    static List<ConditionSpec> conditions(String surrogate) {
        return List.of(
                spec("bare", Placement.NONE, null, RopeCorrection.HALF_SPLIT, false),
                spec("bare_qf", Placement.NONE, null, RopeCorrection.HALF_SPLIT, true),
                spec("full", Placement.PREFIX_FULL, surrogate, RopeCorrection.HALF_SPLIT, false),
                spec("trunc", Placement.PREFIX_TRUNCATED, surrogate, RopeCorrection.HALF_SPLIT, false),
                spec("trunc_interleaved", Placement.PREFIX_TRUNCATED, surrogate, RopeCorrection.INTERLEAVED, false),
                spec("trunc_static", Placement.PREFIX_TRUNCATED, "What is this passage about?", RopeCorrection.HALF_SPLIT, false),
                spec("suffix", Placement.SUFFIX, surrogate, RopeCorrection.HALF_SPLIT, false),
                spec("suffix_qf", Placement.SUFFIX, surrogate, RopeCorrection.HALF_SPLIT, true));
    }

    private static ConditionSpec spec(String name, Placement p, String surrogate, RopeCorrection c, boolean queryFree) {
        return ConditionSpec.newBuilder().setName(name).setPlacement(p).setSurrogate(surrogate).setRopeCorrection(c)
                .setQueryFree(queryFree).build();
    }

    private static String words(Random random, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.append(i == 0 ? "" : " ").append(WORDS[random.nextInt(WORDS.length)]);
        return sb.toString();
    }
}
