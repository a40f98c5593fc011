package dkv.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * A progress line on stderr: done/planned, a bar, the rate since the start and the time left at that rate.
 * On a terminal the line redraws in place (at most every 200 ms); otherwise a line is printed at most
 * every {@code interval}, so logs stay readable.
 */
public final class ScoreProgress {
    private static final int BAR = 30;

    private final String label;
    private final String unit;
    private final long planned;
    private final PrintWriter out;
    private final boolean inPlace;
    private final long intervalNanos;
    private final LongSupplier nanoClock;
    private final long start;
    private long done;
    private long lastDraw;
    private long lastDrawnDone = -1;

    public ScoreProgress(String label, String unit, long planned, PrintWriter out, boolean inPlace, Duration interval,
            LongSupplier nanoClock) {
        this.label = label;
        this.unit = unit;
        this.planned = planned;
        this.out = out;
        this.inPlace = inPlace;
        this.intervalNanos = inPlace ? Duration.ofMillis(200).toNanos() : interval.toNanos();
        this.nanoClock = nanoClock;
        this.start = nanoClock.getAsLong();
        this.lastDraw = start;
    }

    /** Redraws in place when stderr is a terminal, else a line every 5 s. */
    public static ScoreProgress onStderr(String label, String unit, long planned, PrintWriter err) {
        return new ScoreProgress(label, unit, planned, err, System.console() != null, Duration.ofSeconds(5), System::nanoTime);
    }

    public synchronized void advance(long n) {
        set(done + n);
    }

    public synchronized void set(long count) {
        done = count;
        long now = nanoClock.getAsLong();
        if (now - lastDraw >= intervalNanos) {
            lastDraw = now;
            draw(now, false);
        }
    }

    public synchronized long done() {
        return done;
    }

    /** The final line, whatever the interval (unless that very count was just drawn). */
    public synchronized String finish() {
        long now = nanoClock.getAsLong();
        if (lastDrawnDone == done && !inPlace) {
            return line(now);
        }
        return draw(now, true);
    }

    private String draw(long now, boolean last) {
        lastDrawnDone = done;
        String line = line(now);
        if (inPlace) {
            out.print("\r" + line + (last ? "\n" : ""));
        } else {
            out.println(line);
        }
        out.flush();
        return line;
    }

    String line(long now) {
        double seconds = (now - start) / 1e9;
        double rate = seconds <= 0 ? 0 : done / seconds;
        int filled = planned <= 0 ? 0 : (int) Math.min(BAR, BAR * done / planned);
        String eta = done >= planned ? "done in " + format(Duration.ofNanos(now - start))
                : rate <= 0 ? "ETA ?" : "ETA " + format(Duration.ofMillis((long) ((planned - done) / rate * 1000)));
        return String.format(Locale.ROOT, "%s [%s%s] %d/%d %s (%.1f/s, %s)", label, "#".repeat(filled),
                ".".repeat(BAR - filled), done, planned, unit, rate, eta);
    }

    static String format(Duration d) {
        long s = d.toSeconds();
        if (s >= 3600) {
            return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
        }
        if (s >= 60) {
            return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        }
        return s + "s";
    }
}
