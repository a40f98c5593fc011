package dkv.cli.logging;

import java.util.Objects;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.simple.SimpleLogger;

/**
 * The Kafka producer's {@code Sender} logger without its warnings about CONCURRENT_TRANSACTIONS retries.
 * <p>
 * A transactional producer that begins its next transaction right after a commit sends before the coordinator
 * has finished writing the previous transaction's markers; the broker answers CONCURRENT_TRANSACTIONS and the
 * producer retries after a short backoff, as designed. Every scorer batch can hit it, so a healthy stream printed
 * a WARN per retry. Every other Sender warning (other errors, splits, metadata) still prints; a transaction that
 * never completes still surfaces when its sends time out and the commit fails, which dkv reports itself.
 */
final class KafkaSenderLogger extends SimpleLogger {

    static final String NAME = "org.apache.kafka.clients.producer.internals.Sender";

    KafkaSenderLogger() {
        super(NAME);
    }

    @Override
    protected void handleNormalizedLoggingCall(Level level, Marker marker, String message, Object[] arguments,
            Throwable throwable) {
        if (!isConcurrentTransactionsRetry(level, message, arguments)) {
            super.handleNormalizedLoggingCall(level, marker, message, arguments, throwable);
        }
    }

    /** Sender's "Got error produce response …, retrying (…). Error: {}" with the error CONCURRENT_TRANSACTIONS. */
    static boolean isConcurrentTransactionsRetry(Level level, String message, Object[] arguments) {
        return level == Level.WARN && message != null && message.contains("Got error produce response")
                && message.contains("retrying") && arguments != null && arguments.length > 0
                && "CONCURRENT_TRANSACTIONS".equals(Objects.toString(arguments[arguments.length - 1]));
    }
}
