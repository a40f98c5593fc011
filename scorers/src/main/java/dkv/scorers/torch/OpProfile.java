package dkv.scorers.torch;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where a forward's time goes op by op, for profiling on the GPU: with {@code -Ddkv.op-profile=FILE} (or
 * {@code stderr}) every libtorch call the runtime makes is bracketed by device synchronizations and booked under
 * its op name with two times: the host's time to issue it (the call's own duration: dispatch, shape checks,
 * allocation, kernel launch) and the device time until it finished. The table is written when the JVM exits.
 * Synchronizing after every op removes all overlap, so a profiled run is much slower than an unprofiled one;
 * compare the shares of ops, and the host share against the device share, not totals with unprofiled runs.
 * Off by default: then {@link #begin()} is one static field read.
 */
public final class OpProfile {

    static final String PROPERTY = "dkv.op-profile";
    private static final String TARGET = System.getProperty(PROPERTY);
    static final boolean ENABLED = TARGET != null && !TARGET.isBlank();

    private static final class Totals {
        long calls;
        long hostNanos;
        long deviceNanos;
    }

    private static final Map<String, Totals> BY_OP = new HashMap<>();
    private static long started;

    static {
        if (ENABLED) {
            Runtime.getRuntime().addShutdownHook(new Thread(OpProfile::write, "dkv-op-profile"));
        }
    }

    private OpProfile() {
    }

    /** Drops what was booked so far (loading the weights, say), so that the table covers what follows. */
    public static void restart() {
        if (!ENABLED) return;
        synchronized (BY_OP) {
            BY_OP.clear();
            started = 0;
        }
    }

    /** Before an op: waits for earlier work, so the op's device time is its own. Returns the start, or 0 when off. */
    static long begin(TorchAbi abi) {
        if (!ENABLED) return 0;
        abi.cudaSynchronize();
        long now = System.nanoTime();
        synchronized (BY_OP) {
            if (started == 0) started = now;
        }
        return now;
    }

    /** After an op returned: books its issue time, then waits for it and books its device time. */
    static void end(TorchAbi abi, String op, long start) {
        if (!ENABLED) return;
        long issued = System.nanoTime();
        abi.cudaSynchronize();
        long done = System.nanoTime();
        synchronized (BY_OP) {
            Totals t = BY_OP.computeIfAbsent(op, k -> new Totals());
            t.calls++;
            t.hostNanos += issued - start;
            t.deviceNanos += done - start;
        }
    }

    /** The table, ops by device time descending, with the share of all booked time and of the profiled wall time. */
    static String report() {
        List<Map.Entry<String, Totals>> rows;
        long wall;
        synchronized (BY_OP) {
            rows = new ArrayList<>(BY_OP.entrySet());
            wall = started == 0 ? 0 : System.nanoTime() - started;
        }
        rows.sort((a, b) -> Long.compare(b.getValue().deviceNanos, a.getValue().deviceNanos));
        long booked = rows.stream().mapToLong(e -> e.getValue().deviceNanos).sum();
        long issuing = rows.stream().mapToLong(e -> e.getValue().hostNanos).sum();
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT,
                "op profile: wall %.3f s since the first op, booked %.3f s in ops (%.1f%%), of which issuing on the host %.3f s%n"
                        + "%-44s %10s %11s %11s %7s %9s%n", wall / 1e9, booked / 1e9, wall == 0 ? 0 : 100.0 * booked / wall,
                issuing / 1e9, "op", "calls", "device s", "issue s", "share", "µs/call"));
        for (Map.Entry<String, Totals> e : rows) {
            Totals t = e.getValue();
            out.append(String.format(Locale.ROOT, "%-44s %10d %11.4f %11.4f %6.1f%% %9.1f%n", e.getKey(), t.calls,
                    t.deviceNanos / 1e9, t.hostNanos / 1e9, booked == 0 ? 0 : 100.0 * t.deviceNanos / booked,
                    t.deviceNanos / 1e3 / t.calls));
        }
        return out.toString();
    }

    private static void write() {
        String table = report();
        if (TARGET.equals("stderr")) {
            System.err.print(table);
            return;
        }
        try {
            Files.writeString(Path.of(TARGET), table);
        } catch (IOException e) {
            PrintStream err = System.err;
            err.println("op profile: cannot write " + TARGET + " (" + e.getMessage() + "); the table follows");
            err.print(table);
        }
    }
}
