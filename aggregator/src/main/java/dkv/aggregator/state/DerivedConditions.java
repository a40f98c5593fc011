package dkv.aggregator.state;

import dkv.avro.DerivedStats;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * An experiment's derived conditions: keeps the query similarities that members of similarity routers (ROUTED,
 * RANK_AVERAGE) arrive with, picks each sample's member once the last of its inputs — members, and for ROUTED_BY_NLL
 * and RANK_AVERAGE their signals — is scored, and counts what was picked and what could not be derived.
 *
 * <p>A derived NLL is decided exactly once per sample: only the record that completes the inputs can trigger
 * it, and de-duplication happens before a record gets here. So the counts are a function of the first record of
 * each (sample, input), like every other statistic, and a replay reaches the same ones.
 */
final class DerivedConditions {

    /** A derived NLL that became known with a record: the derived condition and the picked member's NLL. */
    record Derivation(String condition, double nll) {}

    private static final class Tally {
        final ExperimentPlan.Derived plan;
        final long[] picks;
        long samples;
        long unroutable;

        Tally(ExperimentPlan.Derived plan) {
            this.plan = plan;
            this.picks = new long[plan.members().size()];
        }
    }

    private final List<Tally> tallies = new ArrayList<>();
    private final Map<String, Tally> byName = new HashMap<>();
    /** The derived conditions that each member or signal is an input of. */
    private final Map<String, List<Tally>> byInput = new HashMap<>();
    /** Column of each member of a similarity router in the per-sample similarity rows. */
    private final Map<String, Integer> similarityColumn = new LinkedHashMap<>();
    private final Map<String, double[]> similarityBySample = new HashMap<>();

    DerivedConditions(List<ExperimentPlan.Derived> derived) {
        for (ExperimentPlan.Derived d : derived) {
            Tally tally = new Tally(d);
            tallies.add(tally);
            byName.put(d.name(), tally);
            for (String member : d.members()) {
                byInput.computeIfAbsent(member, k -> new ArrayList<>()).add(tally);
                if (d.bySimilarity()) {
                    similarityColumn.putIfAbsent(member, similarityColumn.size());
                }
            }
            for (String signal : d.signals()) {
                byInput.computeIfAbsent(signal, k -> new ArrayList<>()).add(tally);
            }
        }
    }

    boolean isDerived(String condition) {
        return byName.containsKey(condition);
    }

    /**
     * The derived NLLs that a newly accepted record of {@code condition} completes, in plan order.
     *
     * @param similarity the record's query similarity, null where it carried none
     * @param nllOf      the sample's NLL of a condition, NaN where not scored yet
     */
    List<Derivation> accept(String unit, String condition, Double similarity, ToDoubleFunction<String> nllOf) {
        List<Tally> affected = byInput.get(condition);
        if (affected == null) {
            return List.of();
        }
        Integer column = similarityColumn.get(condition);
        if (column != null) {
            double[] row = similarityBySample.computeIfAbsent(unit, k -> nans(similarityColumn.size()));
            row[column] = similarity == null || !Double.isFinite(similarity) ? Double.NaN : similarity;
        }
        List<Derivation> out = new ArrayList<>(1);
        for (Tally tally : affected) {
            List<String> members = tally.plan.members();
            double[] nll = nlls(members, nllOf);
            double[] signal = tally.plan.bySignal() ? nlls(tally.plan.signals(), nllOf) : null;
            if (nll == null || (tally.plan.bySignal() && signal == null)) {
                continue; // awaiting the other inputs
            }
            int pick = MemberPick.of(tally.plan.kind(), nll,
                    tally.plan.bySimilarity() ? similarities(unit, members) : null, signal);
            if (pick == MemberPick.NONE) {
                tally.unroutable++;
                continue;
            }
            tally.samples++;
            tally.picks[pick]++;
            out.add(new Derivation(tally.plan.name(), nll[pick]));
        }
        return out;
    }

    /** The conditions' NLLs in order, or null while one is not scored yet. */
    private static double[] nlls(List<String> conditions, ToDoubleFunction<String> nllOf) {
        double[] out = new double[conditions.size()];
        for (int m = 0; m < out.length; m++) {
            out[m] = nllOf.applyAsDouble(conditions.get(m));
            if (Double.isNaN(out[m])) {
                return null;
            }
        }
        return out;
    }

    private double[] similarities(String unit, List<String> members) {
        double[] row = similarityBySample.get(unit);
        double[] out = new double[members.size()];
        for (int m = 0; m < out.length; m++) {
            out[m] = row == null ? Double.NaN : row[similarityColumn.get(members.get(m))];
        }
        return out;
    }

    /**
     * One summary per derived condition, in plan order.
     *
     * @param rows        every sample's NLL row
     * @param columnOf    a condition's column in the rows, null where never scored
     */
    List<DerivedStats> stats(Collection<double[]> rows, Map<String, Integer> columnOf) {
        List<DerivedStats> out = new ArrayList<>(tallies.size());
        for (Tally tally : tallies) {
            out.add(DerivedStats.newBuilder()
                    .setName(tally.plan.name())
                    .setKind(tally.plan.kind())
                    .setMembers(tally.plan.members())
                    .setSamples(tally.samples)
                    .setAwaitingSamples(awaiting(inputs(tally.plan), rows, columnOf))
                    .setUnroutableSamples(tally.unroutable)
                    .setMemberPicks(Arrays.stream(tally.picks).boxed().toList())
                    .setSignals(tally.plan.signals())
                    .build());
        }
        return out;
    }

    /** What a pick waits for: the members, then the signals. */
    private static List<String> inputs(ExperimentPlan.Derived d) {
        List<String> inputs = new ArrayList<>(d.members());
        inputs.addAll(d.signals());
        return inputs;
    }

    /** Samples with some inputs scored but not all: their derived NLL is not known yet. */
    private static long awaiting(List<String> inputs, Collection<double[]> rows, Map<String, Integer> columnOf) {
        int[] columns = inputs.stream().mapToInt(m -> columnOf.getOrDefault(m, Integer.MAX_VALUE)).toArray();
        long awaiting = 0;
        for (double[] row : rows) {
            int present = 0;
            for (int c : columns) {
                if (c < row.length && !Double.isNaN(row[c])) {
                    present++;
                }
            }
            if (present > 0 && present < columns.length) {
                awaiting++;
            }
        }
        return awaiting;
    }

    private static double[] nans(int n) {
        double[] a = new double[n];
        Arrays.fill(a, Double.NaN);
        return a;
    }
}
