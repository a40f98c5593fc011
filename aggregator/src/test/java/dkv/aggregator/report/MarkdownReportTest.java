package dkv.aggregator.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.aggregator.SyntheticScores;
import dkv.aggregator.state.ExperimentPlan;
import dkv.aggregator.state.ExperimentState;
import dkv.aggregator.state.Score;
import dkv.avro.PairedStats;
import dkv.avro.ScoreRecord;
import dkv.avro.StatsSnapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;

class MarkdownReportTest {

    @Test
    void writesTablesAndWellFormedSvgCharts() throws Exception {
        List<ScoreRecord> records = SyntheticScores.records("exp-r", 0, 120, 120, 9);
        ExperimentState state = new ExperimentState("exp-r", ExperimentPlan.of(records.getFirst().getMeta(), 0.05));
        records.forEach(r -> state.accept(Score.of(r)));
        StatsSnapshot snapshot = state.snapshot(1_700_000_000_000L, 0);
        Path dir = Path.of("target", "report-test");
        Path md = MarkdownReport.write(snapshot, dir);

        String text = Files.readString(md);
        for (PairedStats p : snapshot.getConditions()) {
            assertTrue(text.contains("| " + p.getName() + " | " + p.getN() + " | "
                    + String.format(Locale.ROOT, "%.4g", p.getMeanDelta()) + " |"), p.getName() + " row");
        }
        assertTrue(text.contains("generated_vs_shuffled"));
        assertTrue(text.contains("— final."));
        // bos share is 0.30, 0.35, 0.40, 0.45 over the 4 layers: bands [0,1), [1,2), [2,4)
        assertTrue(text.contains("| bare | bos | 30.0% | 35.0% | 42.5% |"), "layer bands");
        for (String svg : List.of("mean_delta.svg", "contrasts.svg", "quintiles.svg", "attention_0.svg")) {
            assertTrue(text.contains("](" + svg + ")"), svg + " embedded");
            Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(dir.resolve(svg).toFile());
            assertEquals("svg", doc.getDocumentElement().getTagName());
        }
        // one point (circle) per condition in the forest plot
        String forest = Files.readString(dir.resolve("mean_delta.svg"));
        assertEquals(snapshot.getConditions().size(), forest.split("<circle", -1).length - 1);
        assertFalse(text.contains("Oracle share —"), "the oracle's effect is clear here: shares are shown");
        assertFalse(text.contains(MarkdownReport.NO_ATTENTION));
    }

    @Test
    void saysWhyTheOracleShareAndTheAttentionAreMissing() throws Exception {
        ExperimentState state = new ExperimentState("exp-n", new ExperimentPlan("bare", "oracle", List.of(), List.of(), 0, 3, 0.05, 1000));
        for (int i = 0; i < 30; i++) {
            double bare = 2.0 + 0.01 * i;
            state.accept(new Score("exp-n", "s" + i, "bare", bare, 0, null));
            state.accept(new Score("exp-n", "s" + i, "oracle", bare + (i % 2 == 0 ? 0.4 : -0.41), 0, null));
            state.accept(new Score("exp-n", "s" + i, "generated", bare - 0.2 - 0.01 * (i % 4), 0, null));
        }
        Path dir = Path.of("target", "report-test-no-oracle-effect");
        String text = Files.readString(MarkdownReport.write(state.snapshot(1_700_000_000_000L, 0), dir));
        assertTrue(text.contains("Oracle share —: the oracle's mean δ (0.005000) is indistinguishable from 0: its 95% CI ["),
                text);
        assertTrue(text.lines().filter(l -> l.startsWith("| generated |") || l.startsWith("| oracle |"))
                .allMatch(l -> l.endsWith(" — |")), "no share in the table: " + text);
        assertTrue(text.contains("## Attention\n\n" + MarkdownReport.NO_ATTENTION), "attention note");
        assertFalse(Files.exists(dir.resolve("attention_0.svg")));
    }
}
