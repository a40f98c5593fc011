package dkv.aggregator.state;

import dkv.avro.DerivedKind;
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
 * An experiment's derived conditions: keeps the query similarities that ROUTED members arrive with, picks each
 * sample's member once the last member is scored, and counts what was picked and what could not be derived.
 *
 * <p>A derived NLL is decided exactly once per sample: only the record that completes the members can trigger
 * it, and de-duplication happens before a record gets here. So the counts are a function of the first record of
 * each (sample, member), like every other statistic, and a replay reaches the same ones.
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
    private final Map<String, List<Tally>> byMember = new HashMap<>();
    /** Column of each member of a ROUTED condition in the per-sample similarity rows. */
    private final Map<String, Integer> similarityColumn = new LinkedHashMap<>();
    private final Map<String, double[]> similarityBySample = new HashMap<>();

    DerivedConditions(List<ExperimentPlan.Derived> derived) {
        for (ExperimentPlan.Derived d : derived) {
            Tally tally = new Tally(d);
            tallies.add(tally);
            byName.put(d.name(), tally);
            for (String member : d.members()) {
                byMember.computeIfAbsent(member, k -> new ArrayList<>()).add(tally);
                if (d.kind() == DerivedKind.ROUTED) {
                    similarityColumn.putIfAbsent(member, similarityColumn.size());
                }
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
        List<Tally> affected = byMember.get(condition);
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
            double[] nll = new double[members.size()];
            boolean complete = true;
            for (int m = 0; m < nll.length && complete; m++) {
                nll[m] = nllOf.applyAsDouble(members.get(m));
                complete = !Double.isNaN(nll[m]);
            }
            if (!complete) {
                continue; // awaiting the other members
            }
            int pick = MemberPick.of(tally.plan.kind(), nll, similarities(unit, members, tally.plan.kind()));
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

    private double[] similarities(String unit, List<String> members, DerivedKind kind) {
        if (kind != DerivedKind.ROUTED) {
            return null;
        }
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
                    .setAwaitingSamples(awaiting(tally.plan.members(), rows, columnOf))
                    .setUnroutableSamples(tally.unroutable)
                    .setMemberPicks(Arrays.stream(tally.picks).boxed().toList())
                    .build());
        }
        return out;
    }

    /** Samples with some members scored but not all: their derived NLL is not known yet. */
    private static long awaiting(List<String> members, Collection<double[]> rows, Map<String, Integer> columnOf) {
        int[] columns = members.stream().mapToInt(m -> columnOf.getOrDefault(m, Integer.MAX_VALUE)).toArray();
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
