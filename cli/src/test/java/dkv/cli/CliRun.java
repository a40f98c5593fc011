package dkv.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** A {@code dkv} command run in-process, as the tests drive the CLI: its exit code and what it wrote. */
record CliRun(int exit, String err, String out) {

    static CliRun dkv(String... args) {
        StringWriter err = new StringWriter();
        StringWriter out = new StringWriter();
        var commandLine = Dkv.commandLine();
        commandLine.setErr(new PrintWriter(err, true));
        commandLine.setOut(new PrintWriter(out, true));
        int exit = commandLine.execute(args);
        return new CliRun(exit, err.toString(), out.toString());
    }
}
