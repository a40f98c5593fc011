package dkv.cli.logging;

import org.slf4j.ILoggerFactory;
import org.slf4j.simple.SimpleServiceProvider;

/**
 * dkv's SLF4J backend: slf4j-simple as {@code simplelogger.properties} configures it, with loggers from
 * {@link CliLoggerFactory}. Chosen through SLF4J's {@code slf4j.provider} property by {@link #install()} rather
 * than registered as a service: with two registered providers SLF4J warns and picks one by classpath order.
 */
public final class CliLoggingProvider extends SimpleServiceProvider {

    private ILoggerFactory loggerFactory;

    @Override
    public void initialize() {
        super.initialize();
        loggerFactory = new CliLoggerFactory();
    }

    @Override
    public ILoggerFactory getLoggerFactory() {
        return loggerFactory;
    }

    /** Selects this backend; call it before anything logs. A provider the user chose stays. */
    public static void install() {
        if (System.getProperty("slf4j.provider") != null) {
            return;
        }
        System.setProperty("slf4j.provider", CliLoggingProvider.class.getName());
        // SLF4J announces an explicitly chosen provider at its INFO level on stderr, at every start; keep its warnings
        if (System.getProperty("slf4j.internal.verbosity") == null) {
            System.setProperty("slf4j.internal.verbosity", "WARN");
        }
    }
}
