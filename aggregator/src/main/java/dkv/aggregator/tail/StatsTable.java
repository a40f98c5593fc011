package dkv.aggregator.tail;

import dkv.aggregator.json.StatsJson;
import dkv.avro.DerivedStats;
import dkv.avro.PairedStats;
import dkv.avro.RankingComparison;
import dkv.avro.RankingCondition;
import dkv.avro.RankingStats;
import dkv.avro.RoutingAgreement;
import dkv.avro.StatsSnapshot;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The terminal view of a snapshot: one row per condition (and contrast) with n, mean δ and its confidence
 * sequence, d_z, win rate and a status read off the always-valid p-value — the only one valid while peeking.
 * Derived conditions are marked with their kind and followed by how they came about and, for routing, how
 * close it gets to the oracle.
 */
public final class StatsTable {
    private StatsTable() {}

    public static String render(StatsSnapshot s, double alpha) {
        StringBuilder out = new StringBuilder();
        long planned = s.getPlannedSamples() * s.getPlannedConditions();
        out.append(String.format(Locale.ROOT, "experiment %s — %d records%s, %d samples (%d complete), %s%n",
                s.getExperimentId(), s.getRecords(), planned > 0 ? " / " + planned + " planned" : "", s.getSamples(),
                s.getCompleteSamples(), s.getFinal$() ? "FINAL" : progress(s)));
        out.append(String.format(Locale.ROOT, "baseline %s%s · snapshot %s%n", s.getBaseline(),
                s.getOracle() == null ? "" : " · oracle " + s.getOracle(), Instant.ofEpochMilli(s.getProducedAt())));
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"condition", "n", "mean δ", "CS (anytime)", "d_z", "win rate", "anytime p", "status"});
        for (PairedStats p : s.getConditions()) {
            rows.add(row(p.getDerivedKind() == null ? p.getName()
                    : p.getName() + " [" + StatsJson.kind(p.getDerivedKind()) + "]", p, alpha));
        }
        for (PairedStats p : s.getContrasts()) {
            rows.add(row(p.getName() + " (vs " + p.getReference() + ")", p, alpha));
        }
        columns(out, rows, true);
        derived(out, s.getDerived(), s.getRouting());
        if (s.getRanking() != null) {
            ranking(out, s.getRanking(), s.getBaseline());
        }
        out.append(s.getFinal$() ? "" : "fixed-n t / Wilcoxon p-values: final only (dkv report once the run is complete)\n");
        return out.toString();
    }

    /**
     * One row per condition: the mean of each ranking metric over queries, and against the baseline each metric's
     * mean Δ with its randomization p (the test that assumes least about the metric's distribution).
     */
    static void ranking(StringBuilder out, RankingStats r, String baseline) {
        out.append(String.format(Locale.ROOT, "ranking — %d queries (%d complete, %d candidates); AUC excludes %d "
                        + "one-class queries, MRR/nDCG %d without a relevant candidate%n", r.getQueries(),
                r.getCompleteQueries(), r.getCandidates(), r.getOneClassQueries(), r.getNoRelevantQueries()));
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"condition", "queries", "AUC", "MRR@10", "nDCG@10", "Δ AUC (p)", "Δ MRR@10 (p)",
                "Δ nDCG@10 (p)"});
        for (RankingCondition c : r.getConditions()) {
            String[] row = {c.getName(), Long.toString(c.getQueries()), num(c.getAuc()), num(c.getMrrAt10()),
                    num(c.getNdcgAt10()), "", "", ""};
            if (c.getName().equals(baseline)) {
                row[5] = "baseline";
            }
            for (RankingComparison d : r.getComparisons()) {
                if (d.getName().equals(c.getName())) {
                    int column = switch (d.getMetric()) {
                        case "auc" -> 5;
                        case "mrr_at_10" -> 6;
                        default -> 7;
                    };
                    row[column] = signed(d.getMeanDelta()) + " (" + p(d.getRandomizationP()) + ")";
                }
            }
            rows.add(row);
        }
        columns(out, rows, false);
    }

    /** One line per derived condition (what it picks from, how many samples it has or waits for) and per routing pair. */
    static void derived(StringBuilder out, List<DerivedStats> derived, List<RoutingAgreement> routing) {
        for (DerivedStats d : derived) {
            out.append(String.format(Locale.ROOT, "derived %s = %s of %s%s: %d samples, %d awaiting members", d.getName(),
                    StatsJson.kind(d.getKind()), String.join(", ", d.getMembers()),
                    d.getSignals().isEmpty() ? "" : " by signals " + String.join(", ", d.getSignals()), d.getSamples(),
                    d.getAwaitingSamples()));
            if (d.getUnroutableSamples() > 0) {
                out.append(String.format(Locale.ROOT, ", %d unroutable (a member without query_similarity)",
                        d.getUnroutableSamples()));
            }
            out.append('\n');
        }
        for (RoutingAgreement r : routing) {
            out.append(String.format(Locale.ROOT, "routing %s vs %s over %d samples: picks a best member in %s, "
                            + "closes %s of the oracle gap (mean δ %s of %s)%n", r.getRouted(), r.getBestOf(), r.getN(),
                    pct(r.getAgreement()), r.getGapClosed() == null ? "— (best-of δ not clearly ≠ 0)" : pct(r.getGapClosed()),
                    num(r.getRoutedMeanDelta()), num(r.getBestOfMeanDelta())));
        }
    }

    private static String pct(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.1f%%", 100 * v) : "—";
    }

    /** Aligned columns: the first (and with {@code lastLeft} the last) left-aligned, the others right-aligned. */
    private static void columns(StringBuilder out, List<String[]> rows, boolean lastLeft) {
        int[] width = new int[rows.getFirst().length];
        for (String[] row : rows) {
            for (int c = 0; c < row.length; c++) {
                width[c] = Math.max(width[c], row[c].length());
            }
        }
        for (String[] row : rows) {
            for (int c = 0; c < row.length; c++) {
                boolean left = c == 0 || (lastLeft && c == row.length - 1);
                out.append(c == 0 ? "" : "  ").append(left ? pad(row[c], width[c]) : padLeft(row[c], width[c]));
            }
            out.append('\n');
        }
    }

    private static String signed(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%+.4f", v) : "—";
    }

    private static String p(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.3g", v) : "—";
    }

    private static String progress(StatsSnapshot s) {
        String rate = String.format(Locale.ROOT, "%.1f rec/s", s.getRecordsPerSecond());
        return s.getEtaSeconds() == null ? rate : rate + String.format(Locale.ROOT, ", ETA %.0f s", s.getEtaSeconds());
    }

    private static String[] row(String name, PairedStats p, double alpha) {
        return new String[] {name, Long.toString(p.getN()), num(p.getMeanDelta()),
                "[" + num(p.getCsLo()) + ", " + num(p.getCsHi()) + "]", num(p.getCohenDz()),
                Double.isFinite(p.getWinRate()) ? String.format(Locale.ROOT, "%.1f%%", 100 * p.getWinRate()) : "—",
                Double.isFinite(p.getAnytimeP()) ? String.format(Locale.ROOT, "%.3g", p.getAnytimeP()) : "—",
                status(p, alpha)};
    }

    /** helps / hurts once the confidence sequence excludes 0 (anytime p below α), else undecided. */
    static String status(PairedStats p, double alpha) {
        if (!(p.getAnytimeP() < alpha)) {
            return "undecided";
        }
        return p.getMeanDelta() > 0 ? "helps" : "hurts";
    }

    private static String num(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.4f", v) : "—";
    }

    private static String pad(String s, int width) {
        return s + " ".repeat(width - s.length());
    }

    private static String padLeft(String s, int width) {
        return " ".repeat(width - s.length()) + s;
    }
}
