package dkv.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Placeholder until issue 6 delivers it: says so and fails, never pretends to work. */
@Command(name = "aggregate", mixinStandardHelpOptions = true, description = "Compute paired statistics offline from score JSON lines.")
public final class AggregateCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("dkv aggregate: coming (issue 6)");
        return 2;
    }
}
