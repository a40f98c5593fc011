package dkv.aggregator.state;

import dkv.aggregator.state.Comparison.Kind;
import dkv.aggregator.stats.ConfidenceSequence;
import dkv.aggregator.stats.Correlations;
import dkv.aggregator.stats.DeltaSummary;
import dkv.aggregator.stats.Hardness;
import dkv.aggregator.stats.Moments;
import dkv.aggregator.stats.MultipleComparisons;
import dkv.aggregator.stats.OracleGapShare;
import dkv.aggregator.stats.RoutingVsOracle;
import dkv.aggregator.stats.SignFlipTest;
import dkv.avro.Correlation;
import dkv.avro.DerivedKind;
import dkv.avro.PairedStats;
import dkv.avro.RankingStats;
import dkv.avro.RoutingAgreement;
import dkv.avro.StatsSnapshot;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything the aggregator keeps about one experiment: each sample's NLL per condition (first record of a
 * (sample, condition) wins; later ones are duplicates), the live monitors of every comparison, and attention
 * sums. In a ranking experiment the unit is (query, candidate) instead of the sample, and the candidates'
 * relevance and NLLs also feed the ranking statistics. Every fixed-n statistic is recomputed from the NLL table at snapshot time in sample-id order, so it does
 * not depend on arrival order; only the anytime p-values (running minima) do.
 *
 * <p>A derived condition (routed, best-of, routed by NLL, rank average) becomes a column of the same table when the
 * record completing its inputs arrives, and from there takes exactly the path of a scored condition: comparisons,
 * monitors, multiple-comparison families, quintiles, contrasts and correlations. Only counts of scored records
 * (records, complete samples, final) leave its column out. A routing signal is the other way round: a scored column
 * that counts as a record but is compared with nothing, since its NLL is a query NLL. Ranking units get no derived
 * columns: a pick per candidate is not a ranking (plans refuse derived conditions with ranking).
 */
public final class ExperimentState {
    private final String experimentId;
    private final ExperimentPlan plan;
    private final ConfidenceSequence sequence;
    private final Map<String, Integer> conditionIndex = new HashMap<>();
    private final List<String> conditions = new ArrayList<>();
    /** Columns of derived conditions in {@link #conditions}. */
    private final BitSet derivedColumns = new BitSet();
    private final DerivedConditions derived;
    private final Map<String, double[]> nllBySample = new HashMap<>();
    /** Sample ids in order, as of the last snapshot, and those seen since (merged in at the next snapshot). */
    private List<String> sortedSamples = new ArrayList<>();
    private final List<String> newSamples = new ArrayList<>();
    private final Map<String, Comparison> vsBaseline = new LinkedHashMap<>();
    private final Map<String, Comparison> contrasts = new LinkedHashMap<>();
    private final Map<String, List<Comparison>> comparisonsOf = new HashMap<>();
    private final AttentionAccumulator attention = new AttentionAccumulator();
    private final RankingTable ranking = new RankingTable(SignFlipTest.withDefaults());
    private long records;
    private long duplicates;
    private long conflicting;

    public ExperimentState(String experimentId, ExperimentPlan plan) {
        this.experimentId = experimentId;
        this.plan = plan;
        this.sequence = new ConfidenceSequence(plan.alpha(), plan.nStar());
        this.derived = new DerivedConditions(plan.derived());
        for (ExperimentPlan.Pair pair : plan.contrasts()) {
            Comparison contrast = new Comparison(pair.name(), pair.a(), pair.b(), Kind.CONTRAST, sequence);
            contrasts.put(pair.name(), contrast);
            register(contrast);
        }
    }

    public String experimentId() {
        return experimentId;
    }

    public ExperimentPlan plan() {
        return plan;
    }

    public long records() {
        return records;
    }

    public long duplicates() {
        return duplicates;
    }

    /** Duplicates whose NLL differed from the first record's: a sign of non-deterministic scoring. */
    public long conflictingDuplicates() {
        return conflicting;
    }

    public boolean hasCondition(String condition) {
        return conditionIndex.containsKey(condition);
    }

    /** Adds one score; false when (sample or query/candidate, condition) was seen before. */
    public boolean accept(Score score) {
        if (!Double.isFinite(score.nll())) {
            throw new IllegalArgumentException("score " + experimentId + "/" + score.unit().replace('\u001f', '/')
                    + "/" + score.condition() + ": nll is " + score.nll());
        }
        if (derived.isDerived(score.condition())) {
            // pairing a scored NLL under a derived name would mix two definitions of one condition
            throw new IllegalArgumentException("score " + experimentId + "/" + score.unit().replace('\u001f', '/')
                    + "/" + score.condition() + ": the plan derives this condition; it cannot also be scored");
        }
        int c = indexOf(score.condition());
        String unit = score.unit();
        double[] row = row(unit, c);
        if (!Double.isNaN(row[c])) {
            duplicates++;
            if (Double.compare(row[c], score.nll()) != 0) {
                conflicting++;
            }
            return false;
        }
        row[c] = score.nll();
        records++;
        pairUp(score.condition(), row);
        if (score.candidate() == null) {
            double[] scored = row;
            for (DerivedConditions.Derivation d : derived.accept(unit, score.condition(), score.querySimilarity(),
                    condition -> nll(scored, condition))) {
                int column = indexOf(d.condition());
                double[] withDerived = row(unit, column);
                withDerived[column] = d.nll();
                pairUp(d.condition(), withDerived);
            }
        }
        if (score.attention() != null) {
            attention.add(score.condition(), score.suffixTokens(), score.attention());
        }
        if (score.candidate() != null) {
            ranking.add(score.sampleId(), score.candidate().id(), score.candidate().relevance(), c, score.nll());
        }
        return true;
    }

    /** The unit's NLL row, created or grown so that it has {@code column}. */
    private double[] row(String unit, int column) {
        double[] row = nllBySample.get(unit);
        if (row == null) {
            row = new double[Math.max(conditions.size(), 4)];
            Arrays.fill(row, Double.NaN);
            nllBySample.put(unit, row);
            newSamples.add(unit);
        } else if (column >= row.length) {
            int old = row.length;
            row = Arrays.copyOf(row, conditions.size() + 4);
            Arrays.fill(row, old, row.length, Double.NaN);
            nllBySample.put(unit, row);
        }
        return row;
    }

    /** Feeds the live monitors of every comparison that {@code condition}'s new NLL completes a pair of. */
    private void pairUp(String condition, double[] row) {
        for (Comparison comparison : comparisonsOf.getOrDefault(condition, List.of())) {
            double reference = nll(row, comparison.reference);
            double value = nll(row, comparison.condition);
            if (!Double.isNaN(reference) && !Double.isNaN(value)) {
                comparison.addPair(reference, value);
            }
        }
    }

    private int indexOf(String condition) {
        Integer index = conditionIndex.get(condition);
        if (index != null) {
            return index;
        }
        int created = conditions.size();
        conditionIndex.put(condition, created);
        conditions.add(condition);
        if (derived.isDerived(condition)) {
            derivedColumns.set(created);
        }
        if (!condition.equals(plan.baseline()) && !plan.isSignal(condition)) {
            Comparison comparison = new Comparison(condition, condition, plan.baseline(), Kind.CONDITION, sequence);
            vsBaseline.put(condition, comparison);
            register(comparison);
        }
        return created;
    }

    private void register(Comparison comparison) {
        comparisonsOf.computeIfAbsent(comparison.condition, k -> new ArrayList<>()).add(comparison);
        comparisonsOf.computeIfAbsent(comparison.reference, k -> new ArrayList<>()).add(comparison);
    }

    private double nll(double[] row, String condition) {
        Integer index = conditionIndex.get(condition);
        return index == null || index >= row.length ? Double.NaN : row[index];
    }

    /** Recomputes every statistic from the current state. */
    public StatsSnapshot snapshot(long producedAtMillis, double recordsPerSecond) {
        List<double[]> samples = rowsInSampleOrder();
        List<Comparison> active = new ArrayList<>(vsBaseline.values());
        for (Comparison contrast : contrasts.values()) {
            if (conditionIndex.containsKey(contrast.condition) && conditionIndex.containsKey(contrast.reference)) {
                active.add(contrast);
            }
        }
        List<PairedStats.Builder> built = new ArrayList<>();
        double[] tP = new double[active.size()];
        for (int i = 0; i < active.size(); i++) {
            PairedStats.Builder stats = pairedStats(active.get(i), samples);
            tP[i] = stats.getTP();
            built.add(stats);
        }
        double[] bonferroni = MultipleComparisons.bonferroni(tP);
        double[] holm = MultipleComparisons.holm(tP);
        Comparison oracle = plan.oracle() == null ? null : vsBaseline.get(plan.oracle());
        PairedStats.Builder oracleStats = null;
        for (int i = 0; i < active.size(); i++) {
            built.get(i).setBonferroniP(bonferroni[i]).setHolmP(holm[i]);
            if (active.get(i) == oracle) {
                oracleStats = built.get(i);
            }
        }
        List<PairedStats> conditionStats = new ArrayList<>();
        List<PairedStats> contrastStats = new ArrayList<>();
        for (int i = 0; i < active.size(); i++) {
            PairedStats.Builder stats = built.get(i);
            if (active.get(i).kind == Kind.CONDITION) {
                stats.setOracleGapShare(oracleStats == null ? null : OracleGapShare.of(stats.getMeanDelta(),
                        oracleStats.getMeanDelta(), oracleStats.getCi95Lo(), oracleStats.getCi95Hi()));
                conditionStats.add(stats.build());
            } else {
                contrastStats.add(stats.build());
            }
        }
        long planned = plan.plannedSamples() * plan.plannedConditions();
        Double eta = planned > 0 && recordsPerSecond > 0 ? Math.max(0, planned - records) / recordsPerSecond : null;
        boolean isFinal = planned > 0 && records >= planned;
        RankingStats rankingStats = null;
        if (!ranking.isEmpty()) {
            // planned_samples counts queries, and a query has as many records as candidates × conditions
            rankingStats = ranking.snapshot(conditions, plan.baseline(), expectedConditions());
            long remaining = Math.max(0, plan.plannedSamples() - rankingStats.getCompleteQueries());
            double recordsPerQuery = (double) records / Math.max(1, rankingStats.getQueries());
            eta = plan.plannedSamples() > 0 && recordsPerSecond > 0 ? remaining * recordsPerQuery / recordsPerSecond : null;
            isFinal = plan.plannedSamples() > 0 && remaining == 0;
        }
        return StatsSnapshot.newBuilder()
                .setExperimentId(experimentId)
                .setProducedAt(producedAtMillis)
                .setRecords(records)
                .setSamples(samples.size())
                .setCompleteSamples(completeSamples())
                .setPlannedSamples(plan.plannedSamples())
                .setPlannedConditions(plan.plannedConditions())
                .setBaseline(plan.baseline())
                .setOracle(plan.oracle())
                .setRecordsPerSecond(recordsPerSecond)
                .setEtaSeconds(eta)
                .setConditions(conditionStats)
                .setContrasts(contrastStats)
                .setCorrelations(correlations(samples))
                .setAttention(attention.summaries(plan.baseline()))
                .setFinal$(isFinal)
                .setRanking(rankingStats)
                .setDerived(derived.stats(nllBySample.values(), conditionIndex))
                .setRouting(routing(samples))
                .build();
    }

    /** Each router (every kind but BEST_OF) against each BEST_OF condition over the same members, in plan order. */
    private List<RoutingAgreement> routing(List<double[]> samples) {
        List<RoutingAgreement> out = new ArrayList<>();
        for (ExperimentPlan.Derived routed : plan.derived()) {
            if (routed.kind() == DerivedKind.BEST_OF) {
                continue;
            }
            for (ExperimentPlan.Derived best : plan.derived()) {
                if (best.kind() != DerivedKind.BEST_OF
                        || !new HashSet<>(best.members()).equals(new HashSet<>(routed.members()))) {
                    continue;
                }
                double[][] nll = aligned(samples, plan.baseline(), routed.name(), best.name());
                RoutingVsOracle r = RoutingVsOracle.of(nll[0], nll[1], nll[2]);
                out.add(new RoutingAgreement(routed.name(), best.name(), r.n(), r.agreement(), r.routedMeanDelta(),
                        r.bestOfMeanDelta(), r.gapClosed()));
            }
        }
        return out;
    }

    /** All sample ids sorted, merging the few new ones into the previous order instead of sorting everything. */
    private List<String> sampleOrder() {
        if (newSamples.isEmpty()) {
            return sortedSamples;
        }
        newSamples.sort(null);
        List<String> merged = new ArrayList<>(sortedSamples.size() + newSamples.size());
        int i = 0;
        int j = 0;
        while (i < sortedSamples.size() || j < newSamples.size()) {
            if (j == newSamples.size()
                    || (i < sortedSamples.size() && sortedSamples.get(i).compareTo(newSamples.get(j)) <= 0)) {
                merged.add(sortedSamples.get(i++));
            } else {
                merged.add(newSamples.get(j++));
            }
        }
        newSamples.clear();
        sortedSamples = merged;
        return merged;
    }

    /** Scored conditions a complete sample has; derived ones follow from them and are not counted. */
    private int expectedConditions() {
        return plan.plannedConditions() > 0 ? plan.plannedConditions() : conditions.size() - derivedColumns.cardinality();
    }

    private long completeSamples() {
        int expected = expectedConditions();
        long complete = 0;
        for (double[] row : nllBySample.values()) {
            int present = 0;
            for (int c = 0; c < Math.min(row.length, conditions.size()); c++) {
                if (!derivedColumns.get(c) && !Double.isNaN(row[c])) {
                    present++;
                }
            }
            if (present >= expected) {
                complete++;
            }
        }
        return complete;
    }

    private List<double[]> rowsInSampleOrder() {
        List<String> ids = sampleOrder();
        List<double[]> rows = new ArrayList<>(ids.size());
        for (String id : ids) {
            rows.add(nllBySample.get(id));
        }
        return rows;
    }

    private PairedStats.Builder pairedStats(Comparison comparison, List<double[]> samples) {
        double[][] paired = paired(samples, comparison.reference, comparison.condition);
        double[] reference = paired[0];
        double[] condition = paired[1];
        double[] delta = new double[reference.length];
        for (int i = 0; i < delta.length; i++) {
            delta[i] = reference[i] - condition[i];
        }
        DeltaSummary s = DeltaSummary.of(delta);
        Hardness.HardSplit hard = Hardness.hard(reference, delta);
        List<Double> quintiles = Arrays.stream(Hardness.quintileMeans(reference, delta)).boxed().toList();
        return PairedStats.newBuilder()
                .setName(comparison.name)
                .setReference(comparison.reference)
                .setN(s.n())
                .setMeanDelta(s.mean())
                .setSdDelta(s.sd())
                .setCi95Lo(s.ci95Lo())
                .setCi95Hi(s.ci95Hi())
                .setCohenDz(s.cohenDz())
                .setWinRate(s.winRate())
                .setTieRate(s.tieRate())
                .setTP(s.tP())
                .setWilcoxonP(s.wilcoxonP())
                .setBonferroniP(Double.NaN)
                .setHolmP(Double.NaN)
                .setCsLo(comparison.delta.lower())
                .setCsHi(comparison.delta.upper())
                .setAnytimeP(comparison.delta.anytimePValue())
                .setWinCsLo(comparison.wins.lower())
                .setWinCsHi(comparison.wins.upper())
                .setWinAnytimeP(comparison.wins.anytimePValue())
                .setQuintileMeanDelta(quintiles)
                .setHardN(hard.n())
                .setHardMeanDelta(hard.meanDelta())
                .setOracleGapShare(null)
                .setMeanNll(condition.length == 0 ? Double.NaN : Moments.mean(condition))
                .setDerivedKind(derivedKind(comparison));
    }

    private DerivedKind derivedKind(Comparison comparison) {
        ExperimentPlan.Derived d = comparison.kind == Kind.CONDITION ? plan.derived(comparison.condition) : null;
        return d == null ? null : d.kind();
    }

    /** NLLs of several conditions over the samples (in the given order) that have all of them, one array each. */
    private double[][] aligned(List<double[]> samples, String... names) {
        int[] columns = new int[names.length];
        for (int k = 0; k < names.length; k++) {
            Integer index = conditionIndex.get(names[k]);
            if (index == null) {
                return new double[names.length][0];
            }
            columns[k] = index;
        }
        double[][] out = new double[names.length][samples.size()];
        int n = 0;
        for (double[] row : samples) {
            boolean all = true;
            for (int column : columns) {
                all &= column < row.length && !Double.isNaN(row[column]);
            }
            if (all) {
                for (int k = 0; k < columns.length; k++) {
                    out[k][n] = row[columns[k]];
                }
                n++;
            }
        }
        for (int k = 0; k < names.length; k++) {
            out[k] = Arrays.copyOf(out[k], n);
        }
        return out;
    }

    /** NLLs of two conditions over the samples (in the given order) that have both: [first][], [second][]. */
    private double[][] paired(List<double[]> samples, String first, String second) {
        return aligned(samples, first, second);
    }

    private List<Correlation> correlations(List<double[]> samples) {
        List<Correlation> out = new ArrayList<>();
        for (ExperimentPlan.Pair pair : plan.correlations()) {
            if (!conditionIndex.containsKey(plan.baseline()) || !conditionIndex.containsKey(pair.a())
                    || !conditionIndex.containsKey(pair.b())) {
                continue;
            }
            double[][] nll = aligned(samples, plan.baseline(), pair.a(), pair.b());
            double[] da = new double[nll[0].length];
            double[] db = new double[nll[0].length];
            for (int i = 0; i < da.length; i++) {
                da[i] = nll[0][i] - nll[1][i];
                db[i] = nll[0][i] - nll[2][i];
            }
            Correlations r = Correlations.of(da, db);
            out.add(new Correlation(pair.a(), pair.b(), r.n(), r.pearson(), r.spearman()));
        }
        return out;
    }
}
