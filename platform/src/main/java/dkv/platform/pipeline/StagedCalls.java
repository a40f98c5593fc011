package dkv.platform.pipeline;

import io.micrometer.core.instrument.MeterRegistry;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * The prepare → score stages of a service pipeline (docs/architecture.md "Service pipelines"): each input is
 * prepared on one of {@code prepareThreads} CPU worker threads, then scored on the one thread that owns the
 * accelerator, in input order. Up to {@code prefetch} calls are prepared ahead, so the host builds call k+1 while
 * call k is scored; no more than {@code prefetch} prepared calls ever wait for the score stage, whatever the speed of
 * either stage, and the input is asked for no faster than that (demand, not a growing queue).
 *
 * <p>The scorer worker (over Kafka) and offline {@code dkv score} both run their calls through this one class.
 */
public final class StagedCalls implements AutoCloseable {

    /**
     * @param prefetch       prepared calls at most waiting for the score stage (1: prepare the next while one scores)
     * @param prepareThreads CPU worker threads that prepare calls
     */
    public record Settings(int prefetch, int prepareThreads) {
        public static final int DEFAULT_PREFETCH = 2;
        public static final int DEFAULT_PREPARE_THREADS = 1;

        public Settings {
            if (prefetch < 1) throw new IllegalArgumentException("--prefetch must be at least 1, got " + prefetch);
            if (prepareThreads < 1) throw new IllegalArgumentException("--prepare-threads must be at least 1, got " + prepareThreads);
        }

        public static Settings defaults() {
            return new Settings(DEFAULT_PREFETCH, DEFAULT_PREPARE_THREADS);
        }
    }

    /** One stage's work on one item. */
    @FunctionalInterface
    public interface Step<I, O> {
        O apply(I input) throws Exception;
    }

    private final Settings settings;
    private final Scheduler prepareThreads;
    private final Scheduler scoreThread;
    private final StageMeter prepare;
    private final StageMeter score;

    /** @param name names the threads and tags the meters ({@code pipeline=name}) */
    public StagedCalls(String name, Settings settings, MeterRegistry registry) {
        this.settings = settings;
        this.prepareThreads = Schedulers.newParallel("dkv-prepare-" + name, settings.prepareThreads(), true);
        this.scoreThread = Schedulers.newSingle("dkv-score-" + name, true);
        this.prepare = new StageMeter(registry, name, "prepare");
        this.score = new StageMeter(registry, name, "score");
    }

    public Settings settings() {
        return settings;
    }

    /**
     * The inputs, each prepared then scored, in order. An error of either function ends the flux (a call's own
     * fault should be a value of {@code R}, not an exception).
     */
    public <I, P, R> Flux<R> apply(Flux<I> inputs, Step<? super I, ? extends P> prepareFn, Step<? super P, ? extends R> scoreFn) {
        return inputs
                .doOnNext(_ -> prepare.queued())
                .flatMapSequential(input -> Mono.fromCallable(() -> {
                    prepare.taken();
                    P prepared = prepare.busy(() -> prepareFn.apply(input));
                    score.queued(); // held from here until the score stage takes it
                    return prepared;
                }).subscribeOn(prepareThreads), settings.prefetch(), 1)
                .concatMap(prepared -> {
                    score.taken();
                    return Mono.fromCallable(() -> score.busy(() -> scoreFn.apply(prepared))).subscribeOn(scoreThread);
                }, 0);
    }

    /** The prepare stage's meter (inputs waiting for a CPU worker thread). */
    public StageMeter prepareStage() {
        return prepare;
    }

    /** The score stage's meter: its queue is the prepared calls held in memory. */
    public StageMeter scoreStage() {
        return score;
    }

    @Override
    public void close() {
        prepareThreads.dispose();
        scoreThread.dispose();
        prepare.close();
        score.close();
    }
}
