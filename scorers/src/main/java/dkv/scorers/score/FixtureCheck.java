package dkv.scorers.score;

import dkv.avro.Sample;
import dkv.scorers.model.LoadedModel;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.TorchRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Scores every reference fixture under a directory on a given device and dtype and reports how far the NLLs
 * are from HF's float32 CPU values (max and mean |ΔNLL| per fixture, the worst record). Exits 1 when a
 * fixture exceeds {@code --tolerance} or a structural check fails; bfloat16 runs usually pass
 * {@code --tolerance inf} and read the spread.
 *
 * <pre>java -cp ... dkv.scorers.score.FixtureCheck --device cuda:0 --dtype float32 --fixtures DIR [--tolerance 1e-3]</pre>
 */
public final class FixtureCheck {

    private FixtureCheck() {
    }

    record Summary(String fixture, int records, double maxNll, double meanNll, String worst, double maxShare,
                   double maxDocumentDelta, List<String> mismatches) {}

    public static void main(String[] args) throws IOException {
        Device device = Device.cpu();
        DType dtype = DType.FLOAT32;
        Path fixtures = null;
        double tolerance = 1e-3;
        java.util.Set<String> only = null;  // --only a,b: just these fixture directories
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--device" -> device = Device.parse(require(value, "--device"));
                case "--dtype" -> dtype = DType.parse(require(value, "--dtype"));
                case "--fixtures" -> fixtures = Path.of(require(value, "--fixtures"));
                case "--tolerance" -> tolerance = Double.parseDouble(require(value, "--tolerance"));
                case "--only" -> only = java.util.Set.of(require(value, "--only").split(","));
                default -> usage("unknown argument " + args[i]);
            }
            i++;
        }
        if (fixtures == null) usage("--fixtures DIR is required");
        TorchRuntime runtime = TorchRuntime.load(Optional.empty());
        runtime.requireDevice(device);
        System.out.println(runtime.describe());
        List<Path> dirs;
        try (Stream<Path> s = Files.list(fixtures)) {
            java.util.Set<String> wanted = only;
            dirs = s.filter(d -> Files.exists(d.resolve("expected.json")))
                    .filter(d -> wanted == null || wanted.contains(d.getFileName().toString())).sorted().toList();
        }
        if (dirs.isEmpty()) usage("no fixture (dir with expected.json) under " + fixtures);
        boolean ok = true;
        for (Path dir : dirs) {
            Summary s = check(FixtureFile.read(dir), device, dtype);
            boolean pass = s.maxNll() <= tolerance && s.mismatches().isEmpty();
            ok &= pass;
            System.out.printf(Locale.ROOT, "%-8s %s %s: %d records, max |dNLL| %.3g (%s), mean |dNLL| %.3g, "
                            + "max |d attention share| %.3g, max |d document check| %.3g%s -> %s%n",
                    s.fixture(), device, dtype, s.records(), s.maxNll(), s.worst(), s.meanNll(), s.maxShare(),
                    s.maxDocumentDelta(), s.mismatches().isEmpty() ? "" : ", mismatches " + s.mismatches(),
                    pass ? "PASS" : "FAIL (tolerance " + tolerance + ")");
        }
        System.exit(ok ? 0 : 1);
    }

    static Summary check(FixtureFile f, Device device, DType dtype) {
        List<FixtureComparison.Deviation> all = new ArrayList<>();
        try (LoadedModel model = ModelFamilies.load(f.dir(), device, dtype)) {
            SampleScorer scorer = new SampleScorer(model);
            for (Sample sample : f.samples().values()) {
                all.addAll(FixtureComparison.compare(f, sample.getId(),
                        scorer.score(sample, f.conditions(sample.getId()), ScoreOptions.defaults())));
            }
        }
        FixtureComparison.Deviation worst = all.stream()
                .max((a, b) -> Double.compare(a.nllMean(), b.nllMean())).orElseThrow();
        List<String> mismatches = all.stream().filter(d -> !d.mismatches().isEmpty())
                .map(d -> d.where() + " " + d.mismatches()).toList();
        return new Summary(f.name(), all.size(), worst.nllMean(),
                all.stream().mapToDouble(FixtureComparison.Deviation::nllMean).average().orElse(0), worst.where(),
                all.stream().mapToDouble(FixtureComparison.Deviation::attentionShare).max().orElse(0),
                all.stream().mapToDouble(FixtureComparison.Deviation::documentDelta).max().orElse(0), mismatches);
    }

    private static String require(String value, String flag) {
        if (value == null) usage(flag + " needs a value");
        return value;
    }

    private static void usage(String problem) {
        System.err.println("FixtureCheck: " + problem);
        System.err.println("usage: FixtureCheck --fixtures DIR [--device cpu|cuda:N] [--dtype float32|bfloat16] [--tolerance X] [--only a,b]");
        System.exit(2);
    }
}
