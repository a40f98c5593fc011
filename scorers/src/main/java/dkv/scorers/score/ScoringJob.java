package dkv.scorers.score;

import dkv.scorers.model.ForwardRequest;
import dkv.scorers.model.ForwardResult;
import dkv.scorers.model.KvCache;
import java.util.function.Supplier;

/**
 * One condition's way to its score: a sequence of forwards, each asked for by {@link #next()} and answered through
 * {@link #accept}, so that {@link SampleScorer} can batch the forwards of many conditions and samples round by round.
 * One subclass per recipe.
 */
abstract class ScoringJob {
    private final ConditionPlan plan;
    final HostReadback readback;
    private SharedPrefills prefills;
    private SharedPrefills.Prefill used;
    private double millis;
    private Supplier<ConditionScore> pending;
    private ConditionScore result;

    ScoringJob(ConditionPlan plan, HostReadback readback) {
        this.plan = plan;
        this.readback = readback;
    }

    /** Token ids this condition would like prefilled once and shared (its cache's head), or null. */
    int[] sharedHead() {
        return null;
    }

    /** Hands the job its document's prefills, before its first {@link #next()}. */
    void bind(SharedPrefills documentPrefills) {
        this.prefills = documentPrefills;
    }

    /** Takes entries [0, length) of a shared prefill as this condition's past (its time is then shared too). */
    KvCache reuse(SharedPrefills.Prefill p, int length) {
        if (used != null) throw new IllegalStateException("condition " + plan.name() + " reuses two prefills");
        used = p;
        return p.use(length);
    }

    /** The next forward this condition needs, or null when it is scored. */
    abstract ForwardRequest next();

    /** The result of the forward {@link #next()} returned last. */
    abstract void accept(ForwardResult r);

    ConditionPlan plan() {
        return plan;
    }

    SharedPrefills prefills() {
        return prefills;
    }

    /** The shared prefill this condition reused, or null. */
    SharedPrefills.Prefill used() {
        return used;
    }

    double millis() {
        return millis;
    }

    void addMillis(double ms) {
        millis += ms;
    }

    /** The score, once its device values have been read ({@link HostReadback#fetch}). */
    ConditionScore result() {
        if (pending == null) throw new IllegalStateException("condition " + plan.name() + " not scored");
        if (result == null) result = pending.get();
        return result;
    }

    /** The score as it will read after the readback's fetch. */
    void finish(Supplier<ConditionScore> score) {
        pending = score;
    }

    /** Rows [from, to) of a segment within a forward whose first token is the layout's {@code offset}. */
    static int[] rows(dkv.scorers.recipe.SequenceLayout layout, dkv.scorers.recipe.Segment s, int offset) {
        return new int[] {layout.start(s) - offset, layout.end(s) - offset};
    }
}
