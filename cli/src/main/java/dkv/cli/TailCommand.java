package dkv.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Placeholder until issue 6 delivers it: says so and fails, never pretends to work. */
@Command(name = "tail", mixinStandardHelpOptions = true, description = "Live terminal table of an experiment's statistics from dkv.stats.")
public final class TailCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("dkv tail: coming (issue 6)");
        return 2;
    }
}
