package dkv.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Placeholder until issue 4 delivers it: says so and fails, never pretends to work. */
@Command(name = "score", mixinStandardHelpOptions = true, description = "Score samples under a plan offline (no Kafka) and write JSON lines.")
public final class ScoreCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("dkv score: coming (issue 4)");
        return 2;
    }
}
