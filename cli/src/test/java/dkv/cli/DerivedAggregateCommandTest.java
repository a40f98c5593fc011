package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code dkv aggregate --derived}: routed and best-of conditions from score lines that carry query_similarity, and the
 * routers by signal NLL (the signals after a slash).
 */
class DerivedAggregateCommandTest {

    static String line(String sample, String condition, double nll, Double similarity) {
        return String.format(Locale.ROOT, "{\"experiment_id\":\"e1\",\"sample_id\":\"%s\",\"condition\":\"%s\",\"nll\":%s%s}",
                sample, condition, nll, similarity == null ? "" : ",\"query_similarity\":" + similarity);
    }

    @Test
    void derivedConditionsAppearMarkedWithRoutingAgainstTheOracle(@TempDir Path dir) throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            double base = 2 + (i % 7) * 0.3;
            lines.add(line("s" + i, "bare", base, null));
            // q helps more on even samples and is then the more similar one: routing is right there
            lines.add(line("s" + i, "q", base - (i % 2 == 0 ? 0.5 : 0.1), i % 2 == 0 ? 0.8 : 0.6));
            lines.add(line("s" + i, "k", base - 0.3, i == 7 ? null : 0.7));
        }
        Path scores = Files.write(dir.resolve("scores.jsonl"), lines);
        Path out = dir.resolve("stats.json");
        AggregatorCommandsTest.Run run = AggregatorCommandsTest.dkv("aggregate", "--scores", scores.toString(),
                "--baseline", "bare", "--oracle", "best", "--derived", "routed=routed:q,k", "--derived", "best=best_of:q,k",
                "--out", out.toString());
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.err().contains("routed: 19 samples (1 unroutable: no query_similarity)"), run.err());
        JsonNode e1 = new ObjectMapper().readTree(out.toFile()).get("e1");
        assertEquals("routed", e1.get("conditions").get("routed").get("derived").asText());
        assertEquals("best_of", e1.get("conditions").get("best").get("derived").asText());
        assertTrue(e1.get("conditions").get("q").get("derived").isNull());
        assertEquals(19, e1.get("conditions").get("routed").get("n").asInt());
        assertEquals(1, e1.get("derived").get("routed").get("unroutable_samples").asInt());
        JsonNode routing = e1.get("routing").get("routed|best");
        assertEquals(19, routing.get("n").asInt());
        assertEquals(1.0, routing.get("agreement").asDouble(), "q when it is best, k otherwise");
        assertEquals(1.0, routing.get("gap_closed").asDouble(), 1e-12);

        AggregatorCommandsTest.Run bad = AggregatorCommandsTest.dkv("aggregate", "--scores", scores.toString(),
                "--baseline", "bare", "--derived", "routed=cosine:q,k", "--out", out.toString());
        assertEquals(1, bad.exit());
        assertTrue(bad.err().contains("unknown derived kind 'cosine'"), bad.err());
    }

    @Test
    void signalRoutersReadTheSignalLinesAndLeaveThemUncompared(@TempDir Path dir) throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            double base = 2 + (i % 5) * 0.3;
            lines.add(line("s" + i, "bare", base, null));
            lines.add(line("s" + i, "q", base - (i % 3 == 0 ? 0.6 : 0.1), 0.8));
            lines.add(line("s" + i, "k", base - 0.3, 0.6));
            // the query is likelier on q's cache exactly where q helps most: the NLL router follows it
            lines.add(line("s" + i, "q_query", i % 3 == 0 ? 2.0 : 3.0, null));
            if (i != 11) {
                lines.add(line("s" + i, "k_query", 2.5, null)); // s11 never gets k's signal
            }
        }
        Path scores = Files.write(dir.resolve("scores.jsonl"), lines);
        Path out = dir.resolve("stats.json");
        AggregatorCommandsTest.Run run = AggregatorCommandsTest.dkv("aggregate", "--scores", scores.toString(),
                "--baseline", "bare", "--derived", "by_nll=routed_by_nll:q,k/q_query,k_query",
                "--derived", "ranked=rank_average:q,k/q_query,k_query", "--derived", "best=best_of:q,k",
                "--out", out.toString());
        assertEquals(0, run.exit(), run.err());
        JsonNode e1 = new ObjectMapper().readTree(out.toFile()).get("e1");
        assertEquals("routed_by_nll", e1.get("conditions").get("by_nll").get("derived").asText());
        assertEquals(11, e1.get("conditions").get("by_nll").get("n").asInt());
        assertEquals(1, e1.get("derived").get("by_nll").get("awaiting_samples").asInt(), "s11 waits for k_query");
        assertEquals("k_query", e1.get("derived").get("ranked").get("signals").get(1).asText());
        assertEquals(1.0, e1.get("routing").get("by_nll|best").get("agreement").asDouble());
        assertTrue(e1.get("conditions").get("q_query") == null && e1.get("conditions").get("k_query") == null,
                "signals are query NLLs: " + e1.get("conditions").fieldNames());

        AggregatorCommandsTest.Run bad = AggregatorCommandsTest.dkv("aggregate", "--scores", scores.toString(),
                "--baseline", "bare", "--derived", "by_nll=routed_by_nll:q,k", "--out", out.toString());
        assertEquals(1, bad.exit());
        assertTrue(bad.err().contains("needs one signal per member"), bad.err());
    }
}
