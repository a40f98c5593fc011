package dkv.cli;

import dkv.platform.pipeline.StagedCalls;
import picocli.CommandLine.Option;

/**
 * The prepare → score stages' sizes, shared by {@code dkv score} and {@code dkv scorer} (docs/architecture.md
 * "Service pipelines").
 */
public final class PipelineOptions {

    @Option(names = "--prefetch", defaultValue = "" + StagedCalls.Settings.DEFAULT_PREFETCH, paramLabel = "N",
            description = "calls prepared ahead (tokenized, laid out, planned) while one is scored; at most N wait in memory"
                    + " (default: ${DEFAULT-VALUE})")
    int prefetch;

    @Option(names = "--prepare-threads", defaultValue = "" + StagedCalls.Settings.DEFAULT_PREPARE_THREADS, paramLabel = "N",
            description = "CPU worker threads that prepare calls (default: ${DEFAULT-VALUE})")
    int prepareThreads;

    StagedCalls.Settings settings() {
        return new StagedCalls.Settings(prefetch, prepareThreads);
    }
}
