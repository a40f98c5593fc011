package dkv.cli.logging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.protocol.Errors;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;

class KafkaSenderLoggerTest {

    /** The Sender's retry warning as Kafka's LogContext hands it to SLF4J (prefix + template). */
    private static final String RETRY = "[Producer clientId=dkv-scorer-1, transactionalId=dkv-scorers/w1] Got error produce"
            + " response with correlation id {} on topic-partition {}, retrying ({} attempts left). Error: {}";

    private final CliLoggerFactory factory = new CliLoggerFactory();

    @Test
    void dropsOnlyTheConcurrentTransactionsRetriesOfTheSender() {
        Logger sender = factory.getLogger(KafkaSenderLogger.NAME);
        assertInstanceOf(KafkaSenderLogger.class, sender);
        String printed = stderrOf(() -> {
            sender.warn(RETRY, 14, "dkv.scores-3", 2147483646, Errors.CONCURRENT_TRANSACTIONS);
            sender.warn(RETRY, 15, "dkv.scores-4", 2147483645, Errors.NOT_LEADER_OR_FOLLOWER);
            sender.warn("[Producer clientId=p] Got error produce response in correlation id {} on topic-partition {},"
                    + " splitting and retrying ({} attempts left). Error: {}", 16, "dkv.scores-5", 3, Errors.MESSAGE_TOO_LARGE);
            sender.error("[Producer clientId=p] Uncaught error in kafka producer I/O thread: ", new TimeoutException("x"));
        });
        assertTrue(!printed.contains("CONCURRENT_TRANSACTIONS"), printed);
        assertTrue(printed.contains("Error: NOT_LEADER_OR_FOLLOWER"), printed);
        assertTrue(printed.contains("Error: MESSAGE_TOO_LARGE"), printed);
        assertTrue(printed.contains("Uncaught error in kafka producer I/O thread"), printed);
        assertEquals(3, printed.lines().filter(line -> line.contains(KafkaSenderLogger.NAME)).count(), printed);
    }

    @Test
    void otherLoggersStillWarnWhateverTheMessage() {
        Logger other = factory.getLogger("org.apache.kafka.clients.producer.internals.TransactionManager");
        String printed = stderrOf(() -> other.warn(RETRY, 14, "dkv.scores-3", 1, Errors.CONCURRENT_TRANSACTIONS));
        assertTrue(printed.contains("WARN org.apache.kafka.clients.producer.internals.TransactionManager"), printed);
        assertTrue(printed.contains("Error: CONCURRENT_TRANSACTIONS"), printed);
    }

    private static String stderrOf(Runnable logging) {
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            logging.run();
        } finally {
            System.setErr(original);
        }
        return captured.toString(StandardCharsets.UTF_8);
    }
}
