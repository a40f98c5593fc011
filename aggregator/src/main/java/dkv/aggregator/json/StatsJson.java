package dkv.aggregator.json;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.aggregator.stats.OracleGapShare;
import dkv.avro.AttentionSummary;
import dkv.avro.Correlation;
import dkv.avro.DerivedKind;
import dkv.avro.DerivedStats;
import dkv.avro.PairedStats;
import dkv.avro.RankingComparison;
import dkv.avro.RankingCondition;
import dkv.avro.RankingStats;
import dkv.avro.RoutingAgreement;
import dkv.avro.StatsSnapshot;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The JSON view of statistics, shared by {@code dkv aggregate}'s output and the dashboard's events. JSON has no
 * NaN: undefined values are null.
 */
public final class StatsJson {
    public static final ObjectMapper MAPPER = new ObjectMapper();

    private StatsJson() {}

    /** {@code {"<experiment_id>": {...}}} for every snapshot, in the map's order. */
    public static ObjectNode experiments(Map<String, StatsSnapshot> snapshots) {
        ObjectNode root = MAPPER.createObjectNode();
        snapshots.forEach((id, snapshot) -> root.set(id, experiment(snapshot)));
        return root;
    }

    public static ObjectNode experiment(StatsSnapshot s) {
        ObjectNode node = MAPPER.createObjectNode();
        node.put("experiment_id", s.getExperimentId());
        node.put("produced_at", s.getProducedAt());
        node.put("baseline", s.getBaseline());
        if (s.getOracle() != null) {
            node.put("oracle", s.getOracle());
        } else {
            node.putNull("oracle");
        }
        node.put("records", s.getRecords());
        node.put("samples", s.getSamples());
        node.put("complete_samples", s.getCompleteSamples());
        node.put("planned_samples", s.getPlannedSamples());
        node.put("planned_conditions", s.getPlannedConditions());
        number(node, "records_per_second", s.getRecordsPerSecond());
        number(node, "eta_seconds", s.getEtaSeconds() == null ? Double.NaN : s.getEtaSeconds());
        node.put("final", s.getFinal$());
        // why oracle_gap_share is null in every condition (the views show it), or null where it is defined
        node.put("oracle_gap_share_note", OracleGapShare.whyUndefined(s));
        ObjectNode conditions = node.putObject("conditions");
        s.getConditions().forEach(p -> conditions.set(p.getName(), paired(p)));
        ObjectNode contrasts = node.putObject("contrasts");
        s.getContrasts().forEach(p -> contrasts.set(p.getName(), paired(p)));
        ObjectNode correlations = node.putObject("correlations");
        for (Correlation c : s.getCorrelations()) {
            ObjectNode r = correlations.putObject(c.getA() + "|" + c.getB());
            r.put("n", c.getN());
            number(r, "pearson", c.getPearson());
            number(r, "spearman", c.getSpearman());
        }
        ArrayNode attention = node.putArray("attention");
        for (AttentionSummary a : s.getAttention()) {
            ObjectNode entry = attention.addObject();
            entry.put("condition", a.getCondition());
            entry.put("source", a.getSource());
            entry.put("segment", a.getSegment());
            numbers(entry.putArray("per_layer"), a.getPerLayer());
        }
        if (s.getRanking() != null) {
            node.set("ranking", ranking(s.getRanking()));
        }
        node.set("derived", derived(s.getDerived()));
        node.set("routing", routing(s.getRouting()));
        return node;
    }

    /** The plan's word for a derived kind: {@code routed}, {@code best_of}, {@code routed_by_nll} or {@code rank_average}. */
    public static String kind(DerivedKind kind) {
        return kind.name().toLowerCase(Locale.ROOT);
    }

    /**
     * {@code {name: {kind, members, signals, samples, awaiting_samples, unroutable_samples, member_picks: {member: n}}}};
     * {@code signals} is empty for the kinds that route by none.
     */
    public static ObjectNode derived(List<DerivedStats> derived) {
        ObjectNode node = MAPPER.createObjectNode();
        for (DerivedStats d : derived) {
            ObjectNode entry = node.putObject(d.getName());
            entry.put("kind", kind(d.getKind()));
            ArrayNode members = entry.putArray("members");
            d.getMembers().forEach(members::add);
            ArrayNode signals = entry.putArray("signals");
            d.getSignals().forEach(signals::add);
            entry.put("samples", d.getSamples());
            entry.put("awaiting_samples", d.getAwaitingSamples());
            entry.put("unroutable_samples", d.getUnroutableSamples());
            ObjectNode picks = entry.putObject("member_picks");
            for (int m = 0; m < d.getMembers().size(); m++) {
                picks.put(d.getMembers().get(m), d.getMemberPicks().get(m));
            }
        }
        return node;
    }

    /**
     * {@code {"<router>|<best_of>": {routed, best_of, n, agreement, routed_mean_delta, best_of_mean_delta, gap_closed}}};
     * {@code routed} names the router, of any routing kind.
     */
    public static ObjectNode routing(List<RoutingAgreement> routing) {
        ObjectNode node = MAPPER.createObjectNode();
        for (RoutingAgreement r : routing) {
            ObjectNode entry = node.putObject(r.getRouted() + "|" + r.getBestOf());
            entry.put("routed", r.getRouted());
            entry.put("best_of", r.getBestOf());
            entry.put("n", r.getN());
            number(entry, "agreement", r.getAgreement());
            number(entry, "routed_mean_delta", r.getRoutedMeanDelta());
            number(entry, "best_of_mean_delta", r.getBestOfMeanDelta());
            number(entry, "gap_closed", r.getGapClosed() == null ? Double.NaN : r.getGapClosed());
        }
        return node;
    }

    /**
     * {@code {queries, complete_queries, candidates, one_class_queries, no_relevant_queries, randomization_resamples,
     * conditions: {name: {queries, auc, auc_queries, mrr_at_10, ndcg_at_10}},
     * comparisons: {name: {metric: {reference, n, mean_delta, t_p, wilcoxon_p, randomization_p}}}}}.
     */
    public static ObjectNode ranking(RankingStats r) {
        ObjectNode node = MAPPER.createObjectNode();
        node.put("queries", r.getQueries());
        node.put("complete_queries", r.getCompleteQueries());
        node.put("candidates", r.getCandidates());
        node.put("one_class_queries", r.getOneClassQueries());
        node.put("no_relevant_queries", r.getNoRelevantQueries());
        node.put("randomization_resamples", r.getRandomizationResamples());
        ObjectNode conditions = node.putObject("conditions");
        for (RankingCondition c : r.getConditions()) {
            ObjectNode entry = conditions.putObject(c.getName());
            entry.put("queries", c.getQueries());
            number(entry, "auc", c.getAuc());
            entry.put("auc_queries", c.getAucQueries());
            number(entry, "mrr_at_10", c.getMrrAt10());
            number(entry, "ndcg_at_10", c.getNdcgAt10());
        }
        ObjectNode comparisons = node.putObject("comparisons");
        for (RankingComparison c : r.getComparisons()) {
            ObjectNode byMetric = comparisons.has(c.getName()) ? (ObjectNode) comparisons.get(c.getName())
                    : comparisons.putObject(c.getName());
            ObjectNode entry = byMetric.putObject(c.getMetric());
            entry.put("reference", c.getReference());
            entry.put("n", c.getN());
            number(entry, "mean_delta", c.getMeanDelta());
            number(entry, "t_p", c.getTP());
            number(entry, "wilcoxon_p", c.getWilcoxonP());
            number(entry, "randomization_p", c.getRandomizationP());
        }
        return node;
    }

    public static ObjectNode paired(PairedStats p) {
        ObjectNode node = MAPPER.createObjectNode();
        node.put("reference", p.getReference());
        node.put("n", p.getN());
        number(node, "mean_delta", p.getMeanDelta());
        number(node, "sd_delta", p.getSdDelta());
        numbers(node.putArray("ci95"), List.of(p.getCi95Lo(), p.getCi95Hi()));
        number(node, "cohen_dz", p.getCohenDz());
        number(node, "win_rate", p.getWinRate());
        number(node, "tie_rate", p.getTieRate());
        number(node, "t_p", p.getTP());
        number(node, "wilcoxon_p", p.getWilcoxonP());
        number(node, "bonferroni_p", p.getBonferroniP());
        number(node, "holm_p", p.getHolmP());
        numbers(node.putArray("cs"), List.of(p.getCsLo(), p.getCsHi()));
        number(node, "anytime_p", p.getAnytimeP());
        numbers(node.putArray("win_cs"), List.of(p.getWinCsLo(), p.getWinCsHi()));
        number(node, "win_anytime_p", p.getWinAnytimeP());
        numbers(node.putArray("quintile_mean_delta"), p.getQuintileMeanDelta());
        node.put("hard_n", p.getHardN());
        number(node, "hard_mean_delta", p.getHardMeanDelta());
        number(node, "oracle_gap_share", p.getOracleGapShare() == null ? Double.NaN : p.getOracleGapShare());
        number(node, "mean_nll", p.getMeanNll());
        // null for scored conditions and contrasts; the views mark derived rows with it
        if (p.getDerivedKind() == null) {
            node.putNull("derived");
        } else {
            node.put("derived", kind(p.getDerivedKind()));
        }
        return node;
    }

    private static void number(ObjectNode node, String field, double value) {
        if (Double.isFinite(value)) {
            node.put(field, value);
        } else {
            node.putNull(field);
        }
    }

    private static void numbers(ArrayNode array, List<Double> values) {
        for (double v : values) {
            if (Double.isFinite(v)) {
                array.add(v);
            } else {
                array.addNull();
            }
        }
    }
}
