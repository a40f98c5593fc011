package dkv.aggregator.state;

import dkv.aggregator.stats.AnytimeMonitor;
import dkv.aggregator.stats.ConfidenceSequence;

/**
 * One paired comparison of an experiment: δ = NLL_reference − NLL_condition per sample. A condition against the
 * baseline, or a named contrast. Its live monitors see each pair once, when the pair's second record arrives.
 */
final class Comparison {
    enum Kind { CONDITION, CONTRAST }

    /** H0 of the win-rate monitor: a win (δ > 0) is as likely as not. */
    static final double WIN_RATE_NULL = 0.5;

    final String name;
    final String condition;
    final String reference;
    final Kind kind;
    final AnytimeMonitor delta;
    final AnytimeMonitor wins;

    Comparison(String name, String condition, String reference, Kind kind, ConfidenceSequence sequence) {
        this.name = name;
        this.condition = condition;
        this.reference = reference;
        this.kind = kind;
        this.delta = new AnytimeMonitor(sequence, 0.0);
        this.wins = new AnytimeMonitor(sequence, WIN_RATE_NULL);
    }

    void addPair(double referenceNll, double conditionNll) {
        double d = referenceNll - conditionNll;
        delta.add(d);
        wins.add(d > 0 ? 1.0 : 0.0);
    }
}
