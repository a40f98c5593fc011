package dkv.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Placeholder until issue 2 delivers it: says so and fails, never pretends to work. */
@Command(name = "broker", mixinStandardHelpOptions = true, description = "Start an embedded single-node KRaft broker and print its bootstrap address.")
public final class BrokerCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("dkv broker: coming (issue 2)");
        return 2;
    }
}
