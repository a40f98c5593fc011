package dkv.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Placeholder until issue 7 delivers it: says so and fails, never pretends to work. */
@Command(name = "scorer", mixinStandardHelpOptions = true, description = "Run a scorer worker: consume dkv.work, score, produce dkv.scores transactionally.")
public final class ScorerCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("dkv scorer: coming (issue 7)");
        return 2;
    }
}
