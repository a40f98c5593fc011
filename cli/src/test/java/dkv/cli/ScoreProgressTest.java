package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ScoreProgressTest {

    @Test
    void showsBarRateAndEtaAtMostOncePerInterval() {
        AtomicLong clock = new AtomicLong();
        StringWriter out = new StringWriter();
        ScoreProgress progress = new ScoreProgress("dkv test:", "scores", 100, new PrintWriter(out), false, Duration.ofSeconds(5), clock::get);
        clock.set(Duration.ofSeconds(2).toNanos());
        progress.set(10); // within the interval: nothing printed
        assertEquals("", out.toString());
        clock.set(Duration.ofSeconds(10).toNanos());
        progress.set(25); // 2.5/s, 75 left -> 30 s
        assertEquals("dkv test: [#######.......................] 25/100 scores (2.5/s, ETA 30s)", out.toString().strip());
        clock.set(Duration.ofSeconds(80).toNanos());
        progress.set(100);
        progress.finish(); // the same count was just drawn: not again
        assertEquals(2, out.toString().lines().count(), out.toString());
        assertEquals("dkv test: [##############################] 100/100 scores (1.3/s, done in 1m20s)", out.toString().lines().toList().getLast());
    }
}
