package dkv.scorers.worker.generator;

import dkv.avro.GenerationSettings;
import java.util.List;

/**
 * The port through which the generator service gets surrogate texts written: prompts in, one text per prompt out, in
 * order. The service owns everything around it (Kafka, prompt rendering, seeds, post-processing, embeddings); an
 * implementation only decodes. The engine behind {@code dkv generator --model DIR} and {@code dkv demo --generated} is
 * made by {@link SurrogateWriters#engine}; {@link ExtractiveStandIn} is a deterministic stand-in without a model (tests,
 * {@code dkv generator --stand-in}). Closing a writer releases the model it loaded, if any.
 */
public interface SurrogateWriter extends AutoCloseable {

    /** The generator model id this writer serves; requests naming another are refused. */
    String modelId();

    /** What the texts are, in words, for logs and the demo (a stand-in says that it is one). */
    String describe();

    /**
     * One result per prompt, in order. A prompt that cannot be written for a reason of its own (longer than the
     * model's context, say) gets {@link Written#failed}; an exception means the call could not be attempted at all.
     */
    List<Written> write(List<Prompt> prompts);

    /** Releases what the writer holds (a model it loaded); nothing by default. */
    @Override
    default void close() {}

    /**
     * One prompt: the chat turn to send ({@code message}, the template with the document in place), with the template
     * and document it came from.
     *
     * @param seed the sampling seed of this prompt alone, derived from the settings' seed, the sample and the template,
     *             so a prompt written again (a worker restarted mid-batch) gives the same text
     */
    record Prompt(String sampleId, String template, String document, String message, GenerationSettings settings, long seed) {}

    /**
     * What came back for a prompt: the decoded new text (not yet post-processed) and how many new tokens it took, or
     * the reason there is none.
     */
    record Written(String text, int newTokens, String failure) {
        public static Written text(String text, int newTokens) {
            return new Written(text, newTokens, null);
        }

        public static Written failed(String reason) {
            return new Written(null, 0, reason);
        }
    }
}
