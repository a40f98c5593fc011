package dkv.scorers.generate;

import java.util.List;

/**
 * One prompt to continue.
 *
 * @param prompt        the text the model reads, as is
 * @param specialTokens whether the tokenizer adds its special tokens (BOS) around it: true for a raw prompt, false for
 *                      a rendered chat template, which holds its own (as HF {@code apply_chat_template} tokenizes)
 * @param maxNewTokens  at most this many new tokens (fewer when the model's context ends first)
 * @param sampling      greedy or seeded sampling
 * @param seed          this request's generator seed (sampling only): the same seed gives the same tokens whatever
 *                      the batch, the device or the other requests
 * @param stops         stop strings: generation ends once the decoded text holds one; the text is cut before it
 */
public record GenerationRequest(String prompt, boolean specialTokens, int maxNewTokens, Sampling sampling, long seed,
                                List<String> stops) {

    public GenerationRequest {
        if (prompt == null) throw new IllegalArgumentException("a generation request without a prompt");
        if (maxNewTokens < 1) throw new IllegalArgumentException("max new tokens must be ≥ 1, got " + maxNewTokens);
        stops = List.copyOf(stops);
        for (String s : stops) if (s.isEmpty()) throw new IllegalArgumentException("an empty stop string");
    }

    /** A raw prompt with the tokenizer's BOS, no stop strings. */
    public static GenerationRequest raw(String prompt, int maxNewTokens, Sampling sampling, long seed) {
        return new GenerationRequest(prompt, true, maxNewTokens, sampling, seed, List.of());
    }

    /** A rendered chat template (it holds its own BOS), no stop strings. */
    public static GenerationRequest chat(String rendered, int maxNewTokens, Sampling sampling, long seed) {
        return new GenerationRequest(rendered, false, maxNewTokens, sampling, seed, List.of());
    }

    public GenerationRequest withStops(List<String> stopStrings) {
        return new GenerationRequest(prompt, specialTokens, maxNewTokens, sampling, seed, stopStrings);
    }
}
