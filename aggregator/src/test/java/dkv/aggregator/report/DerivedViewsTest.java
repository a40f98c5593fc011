package dkv.aggregator.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.aggregator.offline.OfflineAggregation;
import dkv.aggregator.offline.ScoreLines;
import dkv.aggregator.state.ExperimentPlan.Derived;
import dkv.aggregator.tail.StatsTable;
import dkv.avro.DerivedStats;
import dkv.avro.RoutingAgreement;
import dkv.avro.StatsSnapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/** `dkv tail` and the report mark derived rows and say how each derived condition came about (with its signals). */
public class DerivedViewsTest {

    /**
     * The routing experiment of ops/reference/derived_reference.py's fixture, with four of its derived conditions: the
     * generated pool routed and best-of, and the mixed pool by rank average (with signals) and best-of.
     */
    public static StatsSnapshot routingExperiment() throws Exception {
        Path file = Path.of(DerivedViewsTest.class.getResource("/reference/derived_scores.jsonl").toURI());
        var options = new OfflineAggregation.Options("bare", "gen_best", List.of(), List.of(), 0.05, 0, List.of(
                Derived.parse("gen_routed=routed:gen_question,gen_keywords,gen_symptom,gen_myth,gen_messy"),
                Derived.parse("gen_best=best_of:gen_myth,gen_messy,gen_keywords,gen_question,gen_symptom"),
                Derived.parse("pool_rank=rank_average:bare,static_define,static_facts,gen_question,gen_keywords"
                        + "/bare_qnll,static_define_qnll,static_facts_qnll,gen_question_qnll,gen_keywords_qnll"),
                Derived.parse("pool_best=best_of:bare,static_define,static_facts,gen_question,gen_keywords")));
        return OfflineAggregation.run(ScoreLines.read(file).stream().filter(s -> s.experimentId().equals("exp-route"))
                .toList(), options, 1).get("exp-route");
    }

    @Test
    void tailMarksDerivedRowsAndReportsRouting() throws Exception {
        StatsSnapshot s = routingExperiment();
        String table = StatsTable.render(s, 0.05);
        assertTrue(table.lines().anyMatch(l -> l.startsWith("gen_routed [routed] ")), table);
        assertTrue(table.lines().anyMatch(l -> l.startsWith("gen_best [best_of] ")), table);
        assertTrue(table.lines().anyMatch(l -> l.startsWith("gen_question ")), "scored rows unmarked: " + table);
        DerivedStats routed = s.getDerived().getFirst();
        assertTrue(table.contains(String.format(Locale.ROOT, "derived gen_routed = routed of gen_question, gen_keywords, "
                + "gen_symptom, gen_myth, gen_messy: %d samples, %d awaiting members, %d unroutable", routed.getSamples(),
                routed.getAwaitingSamples(), routed.getUnroutableSamples())), table);
        RoutingAgreement r = s.getRouting().getFirst();
        assertTrue(table.contains(String.format(Locale.ROOT, "routing gen_routed vs gen_best over %d samples: picks a best "
                + "member in %.1f%%, closes %.1f%% of the oracle gap", r.getN(), 100 * r.getAgreement(),
                100 * r.getGapClosed())), table);
        DerivedStats ranked = s.getDerived().get(2);
        assertTrue(table.contains(String.format(Locale.ROOT, "derived pool_rank = rank_average of bare, static_define, "
                + "static_facts, gen_question, gen_keywords by signals bare_qnll, static_define_qnll, static_facts_qnll, "
                + "gen_question_qnll, gen_keywords_qnll: %d samples, %d awaiting members", ranked.getSamples(),
                ranked.getAwaitingSamples())), table);
        assertTrue(ranked.getSamples() > 0 && ranked.getAwaitingSamples() > 0, ranked.toString());
        assertTrue(table.lines().anyMatch(l -> l.startsWith("pool_rank [rank_average] ")), table);
        assertTrue(table.lines().anyMatch(l -> l.startsWith("routing pool_rank vs pool_best over ")), table);
        assertTrue(table.lines().noneMatch(l -> l.startsWith("bare_qnll")), "signals are not compared: " + table);
    }

    @Test
    void reportHasADerivedSectionAndMarkedRows() throws Exception {
        StatsSnapshot s = routingExperiment();
        Path md = MarkdownReport.write(s, Path.of("target", "report-derived"));
        String text = Files.readString(md);
        assertTrue(text.contains("## Derived conditions"), text);
        assertTrue(text.contains("| gen_routed *(routed)* | " + s.getConditions().stream()
                .filter(p -> p.getName().equals("gen_routed")).findFirst().orElseThrow().getN() + " | "), text);
        assertTrue(text.contains("| gen_best *(best_of)* |"), "hardness and the tables mark it");
        DerivedStats best = s.getDerived().get(1);
        assertTrue(text.contains("| gen_best | best_of | gen_myth (" + best.getMemberPicks().getFirst() + "), gen_messy ("),
                text);
        RoutingAgreement r = s.getRouting().getFirst();
        assertTrue(text.contains(String.format(Locale.ROOT, "| gen_routed | gen_best | %d | %.1f%% |", r.getN(),
                100 * r.getAgreement())), text);
        DerivedStats ranked = s.getDerived().get(2);
        assertTrue(text.contains("| pool_rank | rank_average | bare via bare_qnll (" + ranked.getMemberPicks().getFirst()
                + "), static_define via static_define_qnll ("), text);
        assertTrue(text.contains("| pool_rank *(rank_average)* |"), text);
        assertTrue(text.contains("| pool_rank | pool_best | "), text);
        assertEquals(1, text.split("## Derived conditions", -1).length - 1);
    }
}
