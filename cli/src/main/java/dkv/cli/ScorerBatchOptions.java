package dkv.cli;

import dkv.scorers.score.ScoreOptions;
import picocli.CommandLine.Option;

/** How many conditions' forwards share one padded batch, shared by {@code dkv score} and {@code dkv scorer}. */
public final class ScorerBatchOptions {

    @Option(names = "--max-batch", defaultValue = "256", paramLabel = "N",
            description = "rows (one condition's forward each) per padded batch at most, over all samples scored together"
                    + " (default: ${DEFAULT-VALUE})")
    int maxBatch;

    @Option(names = "--max-tokens", defaultValue = "" + ScoreOptions.DEFAULT_MAX_TOKENS, paramLabel = "N",
            description = "padded tokens (rows x longest row) per batched forward at most (default: ${DEFAULT-VALUE})")
    int maxTokens;

    /** {@code options} with these batch limits. */
    ScoreOptions applyTo(ScoreOptions options) {
        return options.withMaxBatch(maxBatch).withMaxTokens(maxTokens);
    }
}
