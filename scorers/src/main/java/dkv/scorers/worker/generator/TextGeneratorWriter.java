package dkv.scorers.worker.generator;

import dkv.avro.GenerationSettings;
import dkv.scorers.generate.ChatTemplate;
import dkv.scorers.generate.Generation;
import dkv.scorers.generate.GenerationRequest;
import dkv.scorers.generate.Sampling;
import dkv.scorers.generate.TextGenerator;
import dkv.scorers.model.CausalLm;
import java.util.ArrayList;
import java.util.List;

/**
 * The generation engine behind the {@link SurrogateWriter} port: each prompt's message rendered as one user turn through
 * the model's chat template ({@link ChatTemplate}, with the generation prompt), decoded by {@link TextGenerator} with the
 * prompt's settings (greedy at temperature 0, else seeded sampling with its top-p/top-k) and its own seed, all prompts
 * of a call batched together. The text is the decoded new tokens (not post-processed: the service does that); the
 * token count includes a final end-of-sequence token, as {@code dkv generate}'s {@code new_tokens} do. A prompt that
 * does not fit the context, an empty generation, a template that refuses the message or settings the sampler rejects
 * are that prompt's failure with the reason. Made by {@link SurrogateWriters#engine}.
 */
final class TextGeneratorWriter implements SurrogateWriter {

    private final CausalLm lm;
    private final boolean owned;
    private final ChatTemplate template;
    private final TextGenerator generator;
    private final String modelId;
    private final int batchSize;

    /** @param owned whether {@link #close} closes {@code lm} (a model loaded for this writer) or leaves it (a borrowed one) */
    TextGeneratorWriter(CausalLm lm, boolean owned, ChatTemplate template, String modelId, int batchSize) {
        this.lm = lm;
        this.owned = owned;
        this.template = template;
        this.generator = new TextGenerator(lm, batchSize);
        this.modelId = modelId;
        this.batchSize = batchSize;
    }

    @Override
    public String modelId() {
        return modelId;
    }

    @Override
    public String describe() {
        return "text generation with " + lm.family() + " model " + lm.snapshot().dir() + " on " + lm.device() + " as "
                + lm.dtype() + ", chat template " + template.file() + ", batches of " + batchSize;
    }

    @Override
    public List<Written> write(List<Prompt> prompts) {
        List<GenerationRequest> requests = new ArrayList<>(prompts.size());
        List<Integer> positions = new ArrayList<>(prompts.size());
        Written[] out = new Written[prompts.size()];
        for (int i = 0; i < prompts.size(); i++) {
            Prompt p = prompts.get(i);
            try {
                requests.add(request(p));
                positions.add(i);
            } catch (IllegalArgumentException e) {
                out[i] = Written.failed(e.getMessage());
            }
        }
        List<Generation> generations = generator.generate(requests);
        for (int k = 0; k < generations.size(); k++) {
            Generation g = generations.get(k);
            out[positions.get(k)] = g.ok() ? Written.text(g.text(), g.newTokens().length) : Written.failed(g.problem());
        }
        return List.of(out);
    }

    /** The prompt's message as a user turn with the generation prompt, under its settings and seed. */
    private GenerationRequest request(Prompt p) {
        GenerationSettings s = p.settings();
        Sampling sampling = new Sampling(s.getTemperature(), s.getTopP(), s.getTopK());
        return GenerationRequest.chat(template.renderUserTurn(p.message()), s.getMaxNewTokens(), sampling, p.seed());
    }

    @Override
    public void close() {
        if (owned) lm.close();
    }
}
