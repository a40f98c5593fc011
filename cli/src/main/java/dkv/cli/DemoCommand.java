package dkv.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Placeholder until issue 7 delivers it: says so and fails, never pretends to work. */
@Command(name = "demo", mixinStandardHelpOptions = true, description = "Run the whole pipeline on an embedded broker with the bundled tiny model and samples (CPU).")
public final class DemoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("dkv demo: coming (issue 7)");
        return 2;
    }
}
