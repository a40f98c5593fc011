package dkv.cli.logging;

import org.slf4j.Logger;
import org.slf4j.simple.SimpleLoggerFactory;

/** slf4j-simple's loggers, except Kafka's producer {@code Sender}, which is a {@link KafkaSenderLogger}. */
final class CliLoggerFactory extends SimpleLoggerFactory {

    @Override
    protected Logger createLogger(String name) {
        return KafkaSenderLogger.NAME.equals(name) ? new KafkaSenderLogger() : super.createLogger(name);
    }
}
