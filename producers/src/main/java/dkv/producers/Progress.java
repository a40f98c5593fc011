package dkv.producers;

import java.time.Duration;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Counts acknowledged WorkItems and reports, at most once per interval, how many of the planned ones are
 * done, the rate since the start and the time left at that rate.
 */
public final class Progress {
    private final long planned;
    private final long intervalNanos;
    private final LongSupplier nanoClock;
    private final Consumer<String> out;
    private final long start;
    private long done;
    private long lastReport;

    public Progress(long planned, Duration interval, LongSupplier nanoClock, Consumer<String> out) {
        this.planned = planned;
        this.intervalNanos = interval.toNanos();
        this.nanoClock = nanoClock;
        this.out = out;
        this.start = nanoClock.getAsLong();
        this.lastReport = start;
    }

    public static Progress toStderr(long planned) {
        return new Progress(planned, Duration.ofSeconds(5), System::nanoTime, System.err::println);
    }

    public synchronized void advance() {
        done++;
        long now = nanoClock.getAsLong();
        if (now - lastReport >= intervalNanos) {
            lastReport = now;
            out.accept(line(now));
        }
    }

    public synchronized long done() {
        return done;
    }

    /** The closing line, whatever the interval. */
    public synchronized String finish() {
        String line = line(nanoClock.getAsLong());
        out.accept(line);
        return line;
    }

    /** items per second since the start */
    public synchronized double rate() {
        double seconds = (nanoClock.getAsLong() - start) / 1e9;
        return seconds <= 0 ? 0 : done / seconds;
    }

    private String line(long now) {
        double seconds = (now - start) / 1e9;
        double rate = seconds <= 0 ? 0 : done / seconds;
        String eta = rate <= 0 || done >= planned ? (done >= planned ? "done" : "ETA ?")
                : "ETA " + format(Duration.ofMillis((long) ((planned - done) / rate * 1000)));
        return String.format(java.util.Locale.ROOT, "produced %d/%d work items (%.1f/s, %s)", done, planned, rate, eta);
    }

    static String format(Duration d) {
        long s = d.toSeconds();
        if (s >= 3600) {
            return String.format(java.util.Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
        }
        if (s >= 60) {
            return String.format(java.util.Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        }
        return s + "s";
    }
}
