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
                GeneratorCommand.class,
                EmbedCommand.class,
                GenerateCommand.class,
                AggregateCommand.class,
                AggregatorCommand.class,
                TailCommand.class,
                ExportCommand.class,
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
        dkv.cli.logging.CliLoggingProvider.install(); // before anything logs
        // Generated builders resolve enum defaults through Avro's class check too, not only the serdes:
        // trust the contract package before any record is built, whatever flags the JVM was started with.
        dkv.schemas.SchemaHistory.trustGeneratedPackage();
        System.exit(commandLine().execute(args));
    }

    /**
     * The configured command line: bad input (an {@link IllegalArgumentException}, e.g. a Kafka setting or
     * a file that does not parse) is reported as one line naming the command, not as a stack trace.
     */
    public static CommandLine commandLine() {
        CommandLine commandLine = new CommandLine(new Dkv());
        commandLine.setExecutionExceptionHandler((error, command, parseResult) -> {
            if (error instanceof IllegalArgumentException || error instanceof java.io.UncheckedIOException) {
                command.getErr().println("dkv " + command.getCommandName() + ": " + error.getMessage());
                return 2;
            }
            throw error;
        });
        return commandLine;
    }
}
