package dkv.aggregator.report;

import dkv.aggregator.json.StatsJson;
import dkv.aggregator.stats.OracleGapShare;
import dkv.avro.AttentionSummary;
import dkv.avro.Correlation;
import dkv.avro.DerivedStats;
import dkv.avro.PairedStats;
import dkv.avro.RankingComparison;
import dkv.avro.RankingCondition;
import dkv.avro.RankingStats;
import dkv.avro.RoutingAgreement;
import dkv.avro.StatsSnapshot;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Writes an experiment's report: {@code report.md} with the statistics tables, and the SVG charts it embeds
 * (forest plot of mean δ, hardness quintiles, attention heat maps) next to it.
 */
public final class MarkdownReport {
    /** The attention section where no score carried attention shares (opt-in, because recording them slows scoring). */
    static final String NO_ATTENTION = "No attention was recorded in this experiment. Attention shares are opt-in: "
            + "start the scorers with `--attention` (`dkv scorer`, `dkv score`, `dkv demo`), or set "
            + "`capture_attention` on the plan's conditions.";

    private MarkdownReport() {}

    /** Writes into {@code dir} (created if needed) and returns the Markdown file. */
    public static Path write(StatsSnapshot s, Path dir) throws IOException {
        Files.createDirectories(dir);
        StringBuilder md = new StringBuilder();
        md.append("# Experiment ").append(s.getExperimentId()).append("\n\n");
        md.append(String.format(Locale.ROOT, "Snapshot of %s: %d records over %d samples (%d complete)", 
                Instant.ofEpochMilli(s.getProducedAt()), s.getRecords(), s.getSamples(), s.getCompleteSamples()));
        if (s.getPlannedSamples() > 0) {
            md.append(String.format(Locale.ROOT, " of %d planned samples × %d conditions", s.getPlannedSamples(),
                    s.getPlannedConditions()));
        }
        md.append(s.getFinal$() ? " — final.\n\n" : " — not final: fixed-n p-values are provisional; "
                + "read the confidence sequence and anytime p instead.\n\n");
        md.append("Baseline: `").append(s.getBaseline()).append('`');
        if (s.getOracle() != null) {
            md.append(", oracle: `").append(s.getOracle()).append('`');
        }
        md.append(". δ = NLL(reference) − NLL(condition): positive means the condition lowers the answer's NLL.\n\n");

        md.append("## Conditions against the baseline\n\n");
        pairedTable(md, s.getConditions(), true);
        String noShare = OracleGapShare.whyUndefined(s);
        if (noShare != null) {
            md.append("\nOracle share —: ").append(noShare).append(".\n");
        }
        Files.writeString(dir.resolve("mean_delta.svg"), Charts.forest(s.getConditions()), StandardCharsets.UTF_8);
        md.append("\n![mean δ with 95% CI and confidence sequence](mean_delta.svg)\n\n");
        derived(md, s.getDerived(), s.getRouting());

        if (!s.getContrasts().isEmpty()) {
            md.append("## Contrasts\n\n");
            pairedTable(md, s.getContrasts(), false);
            Files.writeString(dir.resolve("contrasts.svg"), Charts.forest(s.getContrasts()), StandardCharsets.UTF_8);
            md.append("\n![contrasts](contrasts.svg)\n\n");
        }

        if (s.getRanking() != null) {
            ranking(md, s.getRanking());
        }

        md.append("## Hardness\n\nMean δ per quintile of the reference NLL (Q1 easiest), and on hard samples "
                + "(reference NLL > 3.0).\n\n| comparison | Q1 | Q2 | Q3 | Q4 | Q5 | hard n | hard mean δ |\n"
                + "|---|---|---|---|---|---|---|---|\n");
        List<PairedStats> all = new ArrayList<>(s.getConditions());
        all.addAll(s.getContrasts());
        for (PairedStats p : all) {
            md.append("| ").append(label(p));
            for (int q = 0; q < 5; q++) {
                md.append(" | ").append(q < p.getQuintileMeanDelta().size() ? num(p.getQuintileMeanDelta().get(q)) : "—");
            }
            md.append(" | ").append(p.getHardN()).append(" | ").append(num(p.getHardMeanDelta())).append(" |\n");
        }
        Files.writeString(dir.resolve("quintiles.svg"), Charts.quintiles(s.getConditions()), StandardCharsets.UTF_8);
        md.append("\n![hardness quintiles](quintiles.svg)\n\n");

        if (!s.getCorrelations().isEmpty()) {
            md.append("## Correlations of δ\n\n| A | B | n | Pearson r | Spearman r |\n|---|---|---|---|---|\n");
            for (Correlation c : s.getCorrelations()) {
                md.append(String.format(Locale.ROOT, "| %s | %s | %d | %s | %s |%n", c.getA(), c.getB(), c.getN(),
                        num(c.getPearson()), num(c.getSpearman())));
            }
            md.append('\n');
        }

        attention(md, s, dir);
        Path file = dir.resolve("report.md");
        Files.writeString(file, md, StandardCharsets.UTF_8);
        return file;
    }

    private static void pairedTable(StringBuilder md, List<PairedStats> rows, boolean withOracle) {
        md.append("| comparison | n | mean δ | 95% CI | confidence sequence | d_z | win | tie | t p | Wilcoxon p "
                + "| Holm p | anytime p | win-rate CS | win anytime p |")
                .append(withOracle ? " oracle share |\n" : "\n")
                .append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|").append(withOracle ? "---|\n" : "\n");
        for (PairedStats p : rows) {
            md.append(String.format(Locale.ROOT, "| %s | %d | %s | [%s, %s] | [%s, %s] | %s | %s | %s | %s | %s | %s | %s | [%s, %s] | %s |",
                    label(p), p.getN(), num(p.getMeanDelta()), num(p.getCi95Lo()), num(p.getCi95Hi()),
                    num(p.getCsLo()), num(p.getCsHi()), num(p.getCohenDz()), pct(p.getWinRate()), pct(p.getTieRate()),
                    pv(p.getTP()), pv(p.getWilcoxonP()), pv(p.getHolmP()), pv(p.getAnytimeP()),
                    pct(p.getWinCsLo()), pct(p.getWinCsHi()), pv(p.getWinAnytimeP())));
            if (withOracle) {
                md.append(' ').append(p.getOracleGapShare() == null ? "—" : pct(p.getOracleGapShare())).append(" |");
            }
            md.append('\n');
        }
    }

    /** A condition's name, marked with its kind where it is derived. */
    private static String label(PairedStats p) {
        return p.getDerivedKind() == null ? p.getName() : p.getName() + " *(" + StatsJson.kind(p.getDerivedKind()) + ")*";
    }

    private static void derived(StringBuilder md, List<DerivedStats> derived, List<RoutingAgreement> routing) {
        if (derived.isEmpty()) {
            return;
        }
        md.append("## Derived conditions\n\nPicked per sample among scored members once all of them (and their "
                + "signals) are scored: *routed* takes the member whose surrogate is most similar to the query, "
                + "*routed_by_nll* the one whose signal (its cache scored with the query as target) has the lowest NLL, "
                + "*rank_average* the best mean of the two ranks, *best_of* the one with the lowest NLL (hindsight "
                + "oracle); ties go to the member listed first. Their statistics are in the tables above; signals are "
                + "query NLLs and are compared with nothing.\n\n"
                + "| derived | kind | members (times picked) | samples | awaiting members | unroutable |\n"
                + "|---|---|---|---|---|---|\n");
        for (DerivedStats d : derived) {
            List<String> members = new ArrayList<>();
            for (int m = 0; m < d.getMembers().size(); m++) {
                members.add(d.getMembers().get(m) + (d.getSignals().isEmpty() ? "" : " via " + d.getSignals().get(m))
                        + " (" + d.getMemberPicks().get(m) + ")");
            }
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %d | %d | %d |%n", d.getName(),
                    StatsJson.kind(d.getKind()), String.join(", ", members), d.getSamples(), d.getAwaitingSamples(),
                    d.getUnroutableSamples()));
        }
        md.append("\nUnroutable: every member scored, but a record carried no `query_similarity`.\n\n");
        if (routing.isEmpty()) {
            return;
        }
        md.append("Each router against the oracle over the same members (samples with the baseline and both): agreement "
                + "= share of samples where the router's pick has the lowest NLL; gap closed = mean δ routed / mean δ "
                + "best-of (— where the best-of δ's 95% CI includes 0).\n\n"
                + "| router | best of | n | agreement | mean δ routed | mean δ best of | gap closed |\n"
                + "|---|---|---|---|---|---|---|\n");
        for (RoutingAgreement r : routing) {
            md.append(String.format(Locale.ROOT, "| %s | %s | %d | %s | %s | %s | %s |%n", r.getRouted(), r.getBestOf(),
                    r.getN(), pct(r.getAgreement()), num(r.getRoutedMeanDelta()), num(r.getBestOfMeanDelta()),
                    r.getGapClosed() == null ? "—" : pct(r.getGapClosed())));
        }
        md.append('\n');
    }

    private static void ranking(StringBuilder md, RankingStats r) {
        md.append("## Ranking\n\n").append(String.format(Locale.ROOT, "%d queries (%d complete) with %d candidates. "
                        + "Candidates rank by NLL ascending (ties by id); relevant = relevance > 0. AUC leaves out %d "
                        + "queries whose candidates are all relevant or all not; MRR@10 and nDCG@10 leave out %d without "
                        + "a relevant candidate.%n%n", r.getQueries(), r.getCompleteQueries(), r.getCandidates(),
                r.getOneClassQueries(), r.getNoRelevantQueries()));
        md.append("| condition | queries | AUC | AUC queries | MRR@10 | nDCG@10 |\n|---|---|---|---|---|---|\n");
        for (RankingCondition c : r.getConditions()) {
            md.append(String.format(Locale.ROOT, "| %s | %d | %s | %d | %s | %s |%n", c.getName(), c.getQueries(),
                    num(c.getAuc()), c.getAucQueries(), num(c.getMrrAt10()), num(c.getNdcgAt10())));
        }
        if (r.getComparisons().isEmpty()) {
            md.append('\n');
            return;
        }
        md.append(String.format(Locale.ROOT, "%nPaired over queries, Δ = metric(condition) − metric(reference): "
                + "positive means the condition ranks better. Randomization: sign-flip test, %d resamples "
                + "(exact where fewer sign patterns exist).%n%n", r.getRandomizationResamples()));
        md.append("| condition | reference | metric | n | mean Δ | t p | Wilcoxon p | randomization p |\n"
                + "|---|---|---|---|---|---|---|---|\n");
        for (RankingComparison c : r.getComparisons()) {
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %d | %s | %s | %s | %s |%n", c.getName(),
                    c.getReference(), c.getMetric(), c.getN(), num(c.getMeanDelta()), pv(c.getTP()),
                    pv(c.getWilcoxonP()), pv(c.getRandomizationP())));
        }
        md.append('\n');
    }

    private static void attention(StringBuilder md, StatsSnapshot s, Path dir) throws IOException {
        Set<String> conditions = new LinkedHashSet<>();
        for (AttentionSummary a : s.getAttention()) {
            if (a.getSource().equals("answer")) {
                conditions.add(a.getCondition());
            }
        }
        md.append("## Attention\n\n");
        if (conditions.isEmpty()) {
            md.append(NO_ATTENTION).append("\n\n");
            return;
        }
        md.append("Mean share of attention from answer positions to each segment, per layer.\n\n");
        int i = 0;
        for (String condition : conditions) {
            String file = "attention_" + (i++) + ".svg";
            Files.writeString(dir.resolve(file), Charts.attention(condition, "answer", s.getAttention()),
                    StandardCharsets.UTF_8);
            md.append("![attention ").append(condition).append("](").append(file).append(")\n\n");
        }
        bands(md, s.getAttention());
        List<AttentionSummary> changes = s.getAttention().stream()
                .filter(a -> a.getSegment().equals("query_change_vs_baseline")).toList();
        if (!changes.isEmpty()) {
            md.append("Change of the answer→query share with a suffix present (condition − baseline), "
                    + "mean over layers:\n\n| condition | change |\n|---|---|\n");
            for (AttentionSummary a : changes) {
                double mean = a.getPerLayer().stream().mapToDouble(Double::doubleValue).filter(Double::isFinite)
                        .average().orElse(Double.NaN);
                md.append("| ").append(a.getCondition()).append(" | ").append(num(mean)).append(" |\n");
            }
            md.append('\n');
        }
    }

    /** Mean share per segment in the early, middle and late third of the layers (answer positions). */
    private static void bands(StringBuilder md, List<AttentionSummary> attention) {
        md.append("Mean share by layer band (thirds of the layers, from answer positions):\n\n"
                + "| condition | segment | early | middle | late |\n|---|---|---|---|---|\n");
        for (AttentionSummary a : attention) {
            if (!a.getSource().equals("answer") || a.getSegment().equals("query_change_vs_baseline")) {
                continue;
            }
            List<Double> layers = a.getPerLayer();
            md.append("| ").append(a.getCondition()).append(" | ").append(a.getSegment());
            for (int band = 0; band < 3; band++) {
                int from = band * layers.size() / 3;
                int to = (band + 1) * layers.size() / 3;
                double mean = layers.subList(from, to).stream().mapToDouble(Double::doubleValue)
                        .filter(Double::isFinite).average().orElse(Double.NaN);
                md.append(" | ").append(pct(mean));
            }
            md.append(" |\n");
        }
        md.append('\n');
    }

    static String num(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.4g", v) : "—";
    }

    static String pct(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.1f%%", 100 * v) : "—";
    }

    static String pv(double v) {
        if (!Double.isFinite(v)) {
            return "—";
        }
        return v < 1e-4 ? String.format(Locale.ROOT, "%.1e", v) : String.format(Locale.ROOT, "%.4f", v);
    }
}
