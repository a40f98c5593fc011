package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.platform.config.KafkaSettings;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

class DkvCommandLineTest {

    @Command(name = "probe")
    static final class ProbeCommand implements Callable<Integer> {
        @Mixin
        KafkaOptions kafka;
        KafkaSettings settings;

        @Override
        public Integer call() {
            settings = kafka.settings("dkv-probe");
            return 0;
        }
    }

    @Test
    void helpListsEverySubcommand() {
        StringWriter out = new StringWriter();
        CommandLine commandLine = Dkv.commandLine();
        commandLine.setOut(new PrintWriter(out));
        assertEquals(0, commandLine.execute("--help"));
        for (String sub : new String[] {"demo", "broker", "produce", "score", "scorer", "aggregate", "aggregator", "tail", "report"}) {
            assertTrue(out.toString().contains("  " + sub + " "), sub + " missing from:\n" + out);
        }
    }

    @Test
    void kafkaOptionsMapToValidatedSettings() {
        ProbeCommand probe = new ProbeCommand();
        CommandLine commandLine = Dkv.commandLine().addSubcommand(probe);
        assertEquals(0, commandLine.execute("probe", "--bootstrap", "k1:9092,k2:9092",
                "--kafka-property", "linger.ms=5", "--kafka-property", "security.protocol=SSL"));
        assertEquals("k1:9092,k2:9092", probe.settings.bootstrapServers());
        assertEquals("5", probe.settings.properties().get("linger.ms"));
        assertEquals("dkv-probe", probe.settings.clientId());
    }

    @Test
    void aBadKafkaSettingIsOneLineNamingTheCommand() {
        StringWriter err = new StringWriter();
        CommandLine commandLine = Dkv.commandLine().addSubcommand(new ProbeCommand());
        commandLine.setErr(new PrintWriter(err));
        assertEquals(2, commandLine.execute("probe", "--bootstrap", "k1:9092", "--kafka-property", "linger.msec=5"));
        String message = err.toString().strip();
        assertEquals(1, message.lines().count(), message);
        assertTrue(message.startsWith("dkv probe: kafka property 'linger.msec'"), message);
    }

    @Test
    void brokerRejectsANonPositivePartitionCount() {
        StringWriter err = new StringWriter();
        CommandLine commandLine = Dkv.commandLine();
        commandLine.setErr(new PrintWriter(err));
        assertEquals(2, commandLine.execute("broker", "--partitions", "0"));
        assertTrue(err.toString().contains("--partitions must be at least 1"), err.toString());
    }
}
