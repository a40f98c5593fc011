package dkv.cli;

import dkv.platform.pipeline.StagedCalls;
import picocli.CommandLine.Option;

/**
 * The prepare → score stages' sizes, shared by {@code dkv score}, {@code dkv scorer} and {@code dkv generator}
 * (docs/architecture.md "Service pipelines"): the prepare stage is the host's part of a call (a scorer tokenizes, lays
 * out and plans; a generator checks requests and renders prompts), the score stage the model's.
 */
public final class PipelineOptions {

    @Option(names = "--prefetch", defaultValue = "" + StagedCalls.Settings.DEFAULT_PREFETCH, paramLabel = "N",
            description = "calls prepared ahead on the host while the model runs one; at most N wait in memory"
                    + " (default: ${DEFAULT-VALUE})")
    int prefetch;

    @Option(names = "--prepare-threads", defaultValue = "" + StagedCalls.Settings.DEFAULT_PREPARE_THREADS, paramLabel = "N",
            description = "CPU worker threads that prepare calls (default: ${DEFAULT-VALUE})")
    int prepareThreads;

    StagedCalls.Settings settings() {
        return new StagedCalls.Settings(prefetch, prepareThreads);
    }
}
