package dkv.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The one entry point: every service and tool of dkv is a subcommand. */
@Command(name = "dkv", mixinStandardHelpOptions = true, version = "dkv 0.1.0",
        description = "Directed KV cache experiments as a stream: produce work, score it, aggregate paired statistics.",
        subcommands = {
                DemoCommand.class,
                BrokerCommand.class,
                ProduceCommand.class,
                ScoreCommand.class,
                ScorerCommand.class,
                AggregateCommand.class,
                AggregatorCommand.class,
                TailCommand.class,
                ReportCommand.class,
                CommandLine.HelpCommand.class
        })
public final class Dkv implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new Dkv()).execute(args));
    }
}
