package dkv.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Placeholder until issue 6 delivers it: says so and fails, never pretends to work. */
@Command(name = "aggregator", mixinStandardHelpOptions = true, description = "Run the aggregator service: dkv.scores -> dkv.stats, dashboard.")
public final class AggregatorCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("dkv aggregator: coming (issue 6)");
        return 2;
    }
}
