package dkv.aggregator.report;

import dkv.avro.AttentionSummary;
import dkv.avro.PairedStats;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The report's charts, drawn as SVG from a snapshot's statistics. */
final class Charts {
    private static final String[] PALETTE = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
            "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
    private static final int LABEL_WIDTH = 170;

    private Charts() {}

    /**
     * Forest plot: per comparison, mean δ with its 95% CI (thick) and its confidence sequence (thin), against a
     * zero line. Right of zero = the condition lowers NLL.
     */
    static String forest(List<PairedStats> rows) {
        int rowHeight = 28;
        int width = 760;
        int height = 60 + rowHeight * Math.max(1, rows.size());
        double lo = 0;
        double hi = 0;
        for (PairedStats p : rows) {
            lo = min(lo, p.getCsLo(), p.getCi95Lo(), p.getMeanDelta());
            hi = max(hi, p.getCsHi(), p.getCi95Hi(), p.getMeanDelta());
        }
        double pad = (hi - lo) * 0.05 + 1e-9;
        Scale x = new Scale(lo - pad, hi + pad, LABEL_WIDTH, width - 20);
        Svg svg = new Svg(width, height);
        svg.text(width / 2.0, 18, "mean δ = NLL(reference) − NLL(condition): 95% CI (thick), confidence sequence (thin)",
                "middle", 12);
        double top = 30;
        svg.line(x.at(0), top, x.at(0), height - 25, "#888", 1);
        for (int i = 0; i < rows.size(); i++) {
            PairedStats p = rows.get(i);
            double y = top + rowHeight * (i + 0.5);
            svg.text(LABEL_WIDTH - 8, y + 4, p.getName(), "end", 12);
            if (Double.isFinite(p.getCsLo()) && Double.isFinite(p.getCsHi())) {
                svg.line(x.at(p.getCsLo()), y, x.at(p.getCsHi()), y, PALETTE[i % PALETTE.length], 1.5);
            }
            if (Double.isFinite(p.getCi95Lo()) && Double.isFinite(p.getCi95Hi())) {
                svg.line(x.at(p.getCi95Lo()), y, x.at(p.getCi95Hi()), y, PALETTE[i % PALETTE.length], 5);
            }
            if (Double.isFinite(p.getMeanDelta())) {
                svg.circle(x.at(p.getMeanDelta()), y, 4.5, "#222");
            }
        }
        axis(svg, x, height - 20);
        return svg.toString();
    }

    /** Grouped bars: mean δ per hardness quintile (easiest first) for each condition. */
    static String quintiles(List<PairedStats> rows) {
        int width = 760;
        int height = 320;
        double lo = 0;
        double hi = 0;
        for (PairedStats p : rows) {
            for (double v : p.getQuintileMeanDelta()) {
                lo = min(lo, v);
                hi = max(hi, v);
            }
        }
        double pad = (hi - lo) * 0.05 + 1e-9;
        Scale y = new Scale(lo - pad, hi + pad, height - 60, 30);
        Svg svg = new Svg(width, height);
        svg.text(width / 2.0, 18, "mean δ by hardness quintile of the reference NLL (Q1 easiest … Q5 hardest)", "middle", 12);
        double left = 60;
        double groupWidth = (width - left - 20) / 5.0;
        double barWidth = groupWidth * 0.8 / Math.max(1, rows.size());
        svg.line(left, y.at(0), width - 20, y.at(0), "#888", 1);
        for (int q = 0; q < 5; q++) {
            double gx = left + q * groupWidth + groupWidth * 0.1;
            svg.text(gx + groupWidth * 0.4, height - 42, "Q" + (q + 1), "middle", 12);
            for (int i = 0; i < rows.size(); i++) {
                List<Double> means = rows.get(i).getQuintileMeanDelta();
                if (q >= means.size() || !Double.isFinite(means.get(q))) {
                    continue;
                }
                double v = means.get(q);
                svg.rect(gx + i * barWidth, Math.min(y.at(v), y.at(0)), barWidth * 0.9, Math.abs(y.at(v) - y.at(0)),
                        PALETTE[i % PALETTE.length]);
            }
        }
        for (double tick : y.ticks()) {
            svg.text(left - 6, y.at(tick) + 4, format(tick), "end", 10);
        }
        legend(svg, rows.stream().map(PairedStats::getName).toList(), left, height - 20);
        return svg.toString();
    }

    /** Heat map of one condition's mean attention share: segments as rows, layers as columns. */
    static String attention(String condition, String source, List<AttentionSummary> summaries) {
        List<AttentionSummary> rows = new ArrayList<>();
        for (AttentionSummary a : summaries) {
            if (a.getCondition().equals(condition) && a.getSource().equals(source) && !a.getSegment().contains("change")) {
                rows.add(a);
            }
        }
        int layers = rows.stream().mapToInt(a -> a.getPerLayer().size()).max().orElse(0);
        int cell = Math.max(8, Math.min(28, 640 / Math.max(1, layers)));
        int width = 110 + cell * layers + 20;
        int height = 50 + 22 * rows.size() + 20;
        Svg svg = new Svg(Math.max(width, 360), height);
        svg.text(10, 18, condition + ": attention share from " + source + " positions (rows: segment, columns: layer)",
                "start", 12);
        for (int r = 0; r < rows.size(); r++) {
            AttentionSummary a = rows.get(r);
            double y = 30 + 22 * r;
            svg.text(100, y + 15, a.getSegment(), "end", 11);
            for (int layer = 0; layer < a.getPerLayer().size(); layer++) {
                double v = a.getPerLayer().get(layer);
                svg.rect(110 + layer * cell, y, cell - 1, 20, Double.isFinite(v) ? heat(v) : "#eee");
            }
        }
        for (int layer = 0; layer < layers; layer += Math.max(1, layers / 8)) {
            svg.text(110 + layer * cell + cell / 2.0, height - 8, Integer.toString(layer), "middle", 10);
        }
        return svg.toString();
    }

    /** White (0) to dark blue (1). */
    private static String heat(double share) {
        double t = Math.max(0, Math.min(1, share));
        int r = (int) Math.round(255 - t * (255 - 8));
        int g = (int) Math.round(255 - t * (255 - 48));
        int b = (int) Math.round(255 - t * (255 - 107));
        return String.format(Locale.ROOT, "#%02x%02x%02x", r, g, b);
    }

    private static void legend(Svg svg, List<String> names, double x, double y) {
        double at = x;
        for (int i = 0; i < names.size(); i++) {
            svg.rect(at, y - 10, 12, 12, PALETTE[i % PALETTE.length]);
            svg.text(at + 16, y, names.get(i), "start", 11);
            at += 24 + 7 * names.get(i).length();
        }
    }

    private static void axis(Svg svg, Scale x, double y) {
        for (double tick : x.ticks()) {
            svg.line(x.at(tick), y - 8, x.at(tick), y - 4, "#888", 1);
            svg.text(x.at(tick), y + 8, format(tick), "middle", 10);
        }
    }

    static String format(double v) {
        return String.format(Locale.ROOT, "%.3g", v);
    }

    private static double min(double current, double... values) {
        for (double v : values) {
            if (Double.isFinite(v)) {
                current = Math.min(current, v);
            }
        }
        return current;
    }

    private static double max(double current, double... values) {
        for (double v : values) {
            if (Double.isFinite(v)) {
                current = Math.max(current, v);
            }
        }
        return current;
    }

    /** Linear map from data [lo, hi] to pixels [from, to], with about five round ticks. */
    private record Scale(double lo, double hi, double from, double to) {
        double at(double v) {
            return from + (v - lo) / (hi - lo) * (to - from);
        }

        List<Double> ticks() {
            double raw = (hi - lo) / 5;
            double step = Math.pow(10, Math.floor(Math.log10(raw)));
            for (double m : new double[] {1, 2, 5, 10}) {
                if (raw <= m * step) {
                    step *= m;
                    break;
                }
            }
            List<Double> ticks = new ArrayList<>();
            for (double t = Math.ceil(lo / step) * step; t <= hi; t += step) {
                ticks.add(Math.abs(t) < step * 1e-9 ? 0.0 : t);
            }
            return ticks;
        }
    }
}
