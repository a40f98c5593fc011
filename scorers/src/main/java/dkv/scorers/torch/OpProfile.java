package dkv.scorers.torch;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where a forward's time goes op by op, for profiling on the GPU: with {@code -Ddkv.op-profile=FILE} (or
 * {@code stderr}) every libtorch call the runtime makes is booked under its op name with the host's time to issue
 * it (the call's own duration: dispatch, shape checks, allocation, kernel launch) and its device time. The table
 * is written when the JVM exits. Two ways to time the device ({@code -Ddkv.op-profile.timing}):
 * <ul>
 *   <li>{@code sync} (default): each call is bracketed by device synchronizations. Nothing overlaps, so small ops
 *       are booked with the synchronization's own cost and the run is much slower: compare shares, not totals.</li>
 *   <li>{@code events}: CUDA events recorded on the stream before and after each call, read every
 *       {@value Events#POOL} calls. The device keeps running ahead of the host as in an unprofiled run, so an op's
 *       time is its kernels' own, and the time the device sat between two ops (waiting for the host to issue the
 *       next) is booked as idle before the op that followed. Needs CUDA and cudart's event API; otherwise
 *       {@code sync}.</li>
 * </ul>
 * With {@code -Ddkv.op-profile.sites=true} an op is booked per call site too ({@code cat @ Rope.apply}): the first
 * caller outside this package. Off by default: then {@link #begin} is one static field read.
 */
public final class OpProfile {

    static final String PROPERTY = "dkv.op-profile";
    private static final String TARGET = System.getProperty(PROPERTY);
    static final boolean ENABLED = TARGET != null && !TARGET.isBlank();
    private static final boolean EVENTS_ASKED = "events".equals(System.getProperty(PROPERTY + ".timing", "sync"));
    private static final boolean SITES = Boolean.getBoolean(PROPERTY + ".sites");
    private static final StackWalker WALKER = StackWalker.getInstance();

    private static final class Totals {
        long calls;
        long hostNanos;
        long deviceNanos;
        long idleBeforeNanos;
    }

    private static final Map<String, Totals> BY_OP = new HashMap<>();
    private static long started;
    /** The event pool once the first op found CUDA events (null: synchronized timing). */
    private static Events events;
    private static boolean eventsChecked;

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
            if (events != null) events.drain();
            BY_OP.clear();
            started = 0;
        }
    }

    /**
     * Before an op. Synchronized timing: waits for earlier work, so the op's device time is its own, and returns
     * the start time. Event timing: records the op's start event and returns its slot. 0 when off.
     */
    static long begin(TorchAbi abi) {
        if (!ENABLED) return 0;
        synchronized (BY_OP) {
            if (!eventsChecked) {
                eventsChecked = true;
                if (EVENTS_ASKED && abi.hasCudaEvents() && abi.cudaDeviceCount() > 0) events = new Events(abi);
            }
            if (started == 0) started = System.nanoTime();
            if (events != null) return events.begin();
        }
        abi.cudaSynchronize();
        return System.nanoTime();
    }

    /** After an op returned: books its issue time and its device time (waiting for it when synchronized). */
    static void end(TorchAbi abi, String op, long start) {
        if (!ENABLED) return;
        String key = SITES ? op + " @ " + site() : op;
        synchronized (BY_OP) {
            if (events != null) {
                events.end(start, key);
                return;
            }
        }
        long issued = System.nanoTime();
        abi.cudaSynchronize();
        long done = System.nanoTime();
        synchronized (BY_OP) {
            book(key, issued - start, done - start, 0);
        }
    }

    private static void book(String key, long hostNanos, long deviceNanos, long idleBeforeNanos) {
        Totals t = BY_OP.computeIfAbsent(key, k -> new Totals());
        t.calls++;
        t.hostNanos += hostNanos;
        t.deviceNanos += deviceNanos;
        t.idleBeforeNanos += idleBeforeNanos;
    }

    /** The first caller outside this package, as {@code Class.method} (nested classes keep their {@code $}). */
    private static String site() {
        return WALKER.walk(frames -> frames
                .filter(f -> !f.getClassName().startsWith("dkv.scorers.torch."))
                .findFirst()
                .map(f -> f.getClassName().substring(f.getClassName().lastIndexOf('.') + 1) + "." + f.getMethodName())
                .orElse("?"));
    }

    /**
     * A fixed pool of CUDA event pairs, one pair per op in issue order; when it is full (and before a report) the
     * device is synchronized once and every pair is read: the op's time between its events, and the device's idle
     * time between the previous op's end and this op's start. Guarded by {@link #BY_OP}.
     */
    private static final class Events {
        static final int POOL = 4096;
        private final TorchAbi abi;
        private final MemorySegment[] startEvents = new MemorySegment[POOL];
        private final MemorySegment[] endEvents = new MemorySegment[POOL];
        private final String[] keys = new String[POOL];
        private final long[] issueStarts = new long[POOL];
        private final long[] hostNanos = new long[POOL];
        private int used;

        Events(TorchAbi abi) {
            this.abi = abi;
            for (int i = 0; i < POOL; i++) {
                startEvents[i] = abi.cudaEventCreate();
                endEvents[i] = abi.cudaEventCreate();
            }
        }

        long begin() {
            if (used == POOL) drain();
            int slot = used++;
            keys[slot] = null;
            abi.cudaEventRecord(startEvents[slot]);
            issueStarts[slot] = System.nanoTime();
            return slot + 1;
        }

        void end(long token, String key) {
            int slot = (int) token - 1;
            hostNanos[slot] = System.nanoTime() - issueStarts[slot];
            abi.cudaEventRecord(endEvents[slot]);
            keys[slot] = key;
        }

        /** Reads every recorded pair (the idle before the pool's first op is the read's own stall: not booked). */
        void drain() {
            abi.cudaSynchronize();
            for (int i = 0; i < used; i++) {
                if (keys[i] == null) continue;  // an op still being issued when another thread filled the pool
                long device = Math.round(abi.cudaEventElapsedMillis(startEvents[i], endEvents[i]) * 1e6);
                long idle = 0;
                if (i > 0 && keys[i - 1] != null) {
                    idle = Math.max(0, Math.round(abi.cudaEventElapsedMillis(endEvents[i - 1], startEvents[i]) * 1e6));
                }
                book(keys[i], hostNanos[i], device, idle);
            }
            used = 0;
        }
    }

    /** The table, ops by device time descending, with the share of all booked time and of the profiled wall time. */
    static String report() {
        List<Map.Entry<String, Totals>> rows;
        long wall;
        boolean evented;
        synchronized (BY_OP) {
            if (events != null) events.drain();
            evented = events != null;
            rows = new ArrayList<>(BY_OP.entrySet());
            wall = started == 0 ? 0 : System.nanoTime() - started;
        }
        rows.sort((a, b) -> Long.compare(b.getValue().deviceNanos, a.getValue().deviceNanos));
        long booked = rows.stream().mapToLong(e -> e.getValue().deviceNanos).sum();
        long issuing = rows.stream().mapToLong(e -> e.getValue().hostNanos).sum();
        long idle = rows.stream().mapToLong(e -> e.getValue().idleBeforeNanos).sum();
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT,
                "op profile (%s): wall %.3f s since the first op, booked %.3f s in ops (%.1f%%), of which issuing on the host"
                        + " %.3f s; device idle between ops %s%n%-60s %10s %11s %11s %7s %9s %11s%n",
                evented ? "CUDA events, unserialized" : "synchronized", wall / 1e9, booked / 1e9,
                wall == 0 ? 0 : 100.0 * booked / wall, issuing / 1e9,
                evented ? String.format(Locale.ROOT, "%.3f s", idle / 1e9) : "not measured (synchronized)",
                "op", "calls", "device s", "issue s", "share", "µs/call", "idle-bef s"));
        for (Map.Entry<String, Totals> e : rows) {
            Totals t = e.getValue();
            out.append(String.format(Locale.ROOT, "%-60s %10d %11.4f %11.4f %6.1f%% %9.1f %11.4f%n", e.getKey(), t.calls,
                    t.deviceNanos / 1e9, t.hostNanos / 1e9, booked == 0 ? 0 : 100.0 * t.deviceNanos / booked,
                    t.deviceNanos / 1e3 / t.calls, t.idleBeforeNanos / 1e9));
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
