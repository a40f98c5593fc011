package dkv.aggregator.report;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.aggregator.offline.OfflineAggregation;
import dkv.aggregator.offline.ScoreLines;
import dkv.aggregator.tail.StatsTable;
import dkv.avro.StatsSnapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The ranking statistics of the reference fixture's tiny experiment in the report and in {@code dkv tail}. */
class RankingViewsTest {

    static StatsSnapshot tinyRanking() throws Exception {
        Path file = Path.of(RankingViewsTest.class.getResource("/reference/ranking_scores.jsonl").toURI());
        var scores = ScoreLines.read(file, true).stream().filter(s -> s.experimentId().equals("rank-tiny")).toList();
        return OfflineAggregation.run(scores, new OfflineAggregation.Options("bare", null, List.of(), List.of(), 0.05, 0), 1)
                .get("rank-tiny");
    }

    @Test
    void reportHasTheRankingTables() throws Exception {
        Path md = MarkdownReport.write(tinyRanking(), Path.of("target", "ranking-report-test"));
        String text = Files.readString(md);
        assertTrue(text.contains("## Ranking"), text);
        assertTrue(text.contains("6 queries (6 complete) with 24 candidates"), text);
        // the values of expected_ranking.json (rank-tiny), as the report rounds them
        assertTrue(text.contains("| better | 6 | 0.9444 | 6 | 0.9167 | 0.9385 |"), text);
        assertTrue(text.contains("| better | bare | auc | 6 | 0.3333 | 0.0409 | 0.0947 | 0.1250 |"), text);
        assertTrue(text.contains("| same | bare | auc | 6 | 0.000 | — | — | — |"), "all-zero Δ: tests undefined\n" + text);
    }

    @Test
    void tailShowsACompactRankingTable() throws Exception {
        String table = StatsTable.render(tinyRanking(), 0.05);
        assertTrue(table.contains("ranking — 6 queries (6 complete, 24 candidates)"), table);
        assertTrue(table.lines().anyMatch(l -> l.startsWith("better") && l.contains("0.9444") && l.contains("+0.3333 (0.125)")),
                table);
        assertTrue(table.lines().anyMatch(l -> l.startsWith("bare") && l.contains("baseline")), table);
    }
}
