package dkv.scorers.worker.generator;

import dkv.avro.Surrogate;
import dkv.avro.SurrogateRequest;
import dkv.platform.config.KafkaSettings;
import dkv.platform.kafka.TransactionalPipeline;
import dkv.platform.pipeline.StagedCalls;
import dkv.schemas.Topics;
import dkv.scorers.worker.PipelineWorker;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * A generator worker: consumes {@code dkv.docs} in the consumer group {@code dkv-generators} and produces
 * {@code dkv.surrogates} (and {@code dkv.dead}) exactly once through a {@link TransactionalPipeline}, like a scorer
 * (see {@link PipelineWorker}): poll → decode → prepare (check the requests, render the prompts: CPU worker threads) →
 * score (write and embed: one thread) → commit, with up to {@code --prefetch} prepared calls waiting while one is
 * generated. A killed worker's open transaction is aborted by its successor and the documents are read again.
 */
public final class GeneratorWorker extends PipelineWorker<SurrogateRequest, GenerateBatchFunction.Prepared, Surrogate> {
    public static final String GROUP = "dkv-generators";

    private GeneratorWorker(TransactionalPipeline<String, SurrogateRequest, GenerateBatchFunction.Prepared, String, Surrogate> pipeline,
            Options options) {
        super(pipeline, options);
    }

    /** Defaults for a worker of {@link #GROUP}: four documents (each with all its templates) per transaction. */
    public static Options options(String workerId) {
        return Options.of(GROUP, workerId);
    }

    /**
     * Starts consuming. {@code generating} is this worker's prepare and score stages, {@code stages} how many calls are
     * prepared ahead and on how many threads; {@code registry} receives the pipeline's own meters.
     */
    public static GeneratorWorker start(KafkaSettings settings, Options options, StagedCalls.Settings stages,
            GenerateBatchFunction generating, MeterRegistry registry) {
        return new GeneratorWorker(startPipeline(settings, options, Topics.DOCS, SurrogateRequest.class, Surrogate.class, stages,
                generating, registry), options);
    }
}
