package dkv.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Placeholder until issue 5 delivers it: says so and fails, never pretends to work. */
@Command(name = "produce", mixinStandardHelpOptions = true, description = "Stream an experiment plan over a dataset into dkv.work.")
public final class ProduceCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("dkv produce: coming (issue 5)");
        return 2;
    }
}
