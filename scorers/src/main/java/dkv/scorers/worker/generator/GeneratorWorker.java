package dkv.scorers.worker.generator;

import dkv.avro.Surrogate;
import dkv.avro.SurrogateRequest;
import dkv.platform.config.KafkaSettings;
import dkv.platform.kafka.TransactionalProcessor;
import dkv.schemas.Topics;
import dkv.scorers.worker.TransactionalWorker;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * A generator worker: consumes {@code dkv.docs} in the consumer group {@code dkv-generators} and produces
 * {@code dkv.surrogates} (and {@code dkv.dead}) exactly once, like a scorer (see {@link TransactionalWorker}): a
 * killed worker's open transaction is aborted by its successor and the documents are read again.
 */
public final class GeneratorWorker extends TransactionalWorker<SurrogateRequest, Surrogate> {
    public static final String GROUP = "dkv-generators";

    private GeneratorWorker(TransactionalProcessor<String, SurrogateRequest, String, Surrogate> processor, Options options) {
        super(processor, options);
    }

    /** Defaults for a worker of {@link #GROUP}: four documents (each with all its templates) per transaction. */
    public static Options options(String workerId) {
        return Options.of(GROUP, workerId);
    }

    public static GeneratorWorker start(KafkaSettings settings, Options options, GenerateBatchFunction generating,
            MeterRegistry registry) {
        return new GeneratorWorker(startProcessor(settings, options, Topics.DOCS, SurrogateRequest.class, Surrogate.class,
                generating, registry), options);
    }
}
