package dkv.platform.pipeline;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One named stage of a pipeline as Prometheus sees it: how many items wait for the stage
 * ({@code dkv_pipeline_queue{pipeline,stage}}), the most that ever waited ({@code dkv_pipeline_queue_max}), and the
 * time the stage was busy ({@code dkv_pipeline_busy_seconds{pipeline,stage}}: count and sum).
 */
public final class StageMeter implements AutoCloseable {
    private final MeterRegistry registry;
    private final AtomicInteger waiting = new AtomicInteger();
    private final AtomicInteger maxWaiting = new AtomicInteger();
    private final Timer busy;
    private final List<Meter> meters;

    public StageMeter(MeterRegistry registry, String pipeline, String stage) {
        this.registry = registry;
        this.busy = Timer.builder("dkv.pipeline.busy").description("time a pipeline stage spent working")
                .tag("pipeline", pipeline).tag("stage", stage).register(registry);
        this.meters = List.of(busy,
                Gauge.builder("dkv.pipeline.queue", waiting, AtomicInteger::get).description("items waiting for a pipeline stage")
                        .tag("pipeline", pipeline).tag("stage", stage).strongReference(true).register(registry),
                Gauge.builder("dkv.pipeline.queue.max", maxWaiting, AtomicInteger::get)
                        .description("the most items that ever waited for a pipeline stage")
                        .tag("pipeline", pipeline).tag("stage", stage).strongReference(true).register(registry));
    }

    /** An item now waits for the stage. */
    public void queued() {
        maxWaiting.accumulateAndGet(waiting.incrementAndGet(), Math::max);
    }

    /** The stage took a waiting item (or dropped it). */
    public void taken() {
        waiting.decrementAndGet();
    }

    /** Runs the stage's work on one item, timing it. */
    public <T> T busy(Callable<T> work) throws Exception {
        long t0 = System.nanoTime();
        try {
            return work.call();
        } finally {
            busy.record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
        }
    }

    /** Records time the stage was busy, measured by its caller (e.g. an asynchronous commit). */
    public void busyFor(long nanos) {
        busy.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** Items waiting now. */
    public int waiting() {
        return waiting.get();
    }

    /** The most items that waited at once so far. */
    public int maxWaiting() {
        return maxWaiting.get();
    }

    /** Items the stage has worked on. */
    public long done() {
        return busy.count();
    }

    /** Unregisters the meters, so that a pipeline started again under the same name reports afresh. */
    @Override
    public void close() {
        meters.forEach(registry::remove);
    }
}
