package dkv.platform.testing;

import dkv.platform.broker.EmbeddedKafkaBroker;
import dkv.platform.config.KafkaSettings;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * {@code @ExtendWith(EmbeddedKafkaExtension.class)} injects the JVM's {@link SharedKafka} broker (or its
 * {@link KafkaSettings}) into test constructors, lifecycle methods and test methods.
 */
public final class EmbeddedKafkaExtension implements ParameterResolver {
    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        return type == EmbeddedKafkaBroker.class || type == KafkaSettings.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == EmbeddedKafkaBroker.class ? SharedKafka.broker() : SharedKafka.settings();
    }
}
