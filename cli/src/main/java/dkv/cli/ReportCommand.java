package dkv.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Placeholder until issue 6 delivers it: says so and fails, never pretends to work. */
@Command(name = "report", mixinStandardHelpOptions = true, description = "Write a Markdown report with charts for an experiment.")
public final class ReportCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("dkv report: coming (issue 6)");
        return 2;
    }
}
