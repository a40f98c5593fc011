package dkv.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.scorers.generate.ChatTemplate;
import dkv.scorers.generate.Generation;
import dkv.scorers.generate.GenerationRequest;
import dkv.scorers.generate.Sampling;
import dkv.scorers.generate.TextGenerator;
import dkv.scorers.model.CausalLm;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.model.ModelSnapshot;
import dkv.scorers.torch.TorchException;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Text generation offline, for inspection: every {@code {id, prompt}} line continued by a causal LM into one
 * {@code {id, new_tokens, text}} line, in input order. The prompt is used as is with the tokenizer's BOS (no chat
 * template), or with {@code --chat} as one user turn through the snapshot's chat template. Greedy unless a
 * temperature is given; each line's generator is seeded by {@code --seed} and its id, so a line's sample does not
 * depend on the others or on the batch. A prompt that does not fit the context, or a generation with no text, is
 * written with an {@code error} field and counted; the run goes on.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text with a causal LM: {id, prompt} JSON lines in, {id, new_tokens, text} JSON lines out"
                + " (new_tokens end at the first EOS, inclusive; an item that cannot be generated gets an 'error' field).")
public final class GenerateCommand implements Callable<Integer> {

    /**
     * Prompts handed to the generator per call at least; it sorts them by length and cuts them into batches itself. A
     * call holds a whole number of batches ({@link #promptsPerCall}), so only the input's last batch can be short.
     */
    static final int PROMPTS_PER_CALL = 256;

    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandSpec spec;

    @Mixin
    ScorerModelOptions model;

    @Option(names = "--prompts", required = true, paramLabel = "FILE", description = "JSON lines {\"id\": string|integer, \"prompt\": string}")
    Path prompts;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "output JSON lines {\"id\", \"new_tokens\", \"text\"[, \"error\"]}")
    Path out;

    @Option(names = "--max-new-tokens", defaultValue = "45", paramLabel = "N", description = "new tokens per prompt at most (default: ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--temperature", defaultValue = "0", paramLabel = "T", description = "0 for greedy (default), else sampling")
    double temperature;

    @Option(names = "--top-p", defaultValue = "1", paramLabel = "P", description = "nucleus sampling mass (default: ${DEFAULT-VALUE}: off)")
    double topP;

    @Option(names = "--top-k", defaultValue = "0", paramLabel = "K", description = "sample among the K highest tokens (default: ${DEFAULT-VALUE}: off)")
    int topK;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "sampling seed, mixed with each line's id (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--batch", defaultValue = "16", paramLabel = "N", description = "prompts decoded together (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--stop", paramLabel = "STRING", description = "stop string (repeatable): the text ends before it")
    List<String> stops = new ArrayList<>();

    @Option(names = "--chat", description = "wrap each prompt as one user message through the model's chat template")
    boolean chat;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        try {
            Sampling sampling = new Sampling(temperature, topP, topK);
            if (maxNewTokens < 1) throw new IllegalArgumentException("--max-new-tokens must be ≥ 1, got " + maxNewTokens);
            if (batch < 1) throw new IllegalArgumentException("--batch must be ≥ 1, got " + batch);
            ModelFamilies.familyOf(ModelSnapshot.open(model.modelDir)); // a missing or unsupported model fails before anything loads
            ChatTemplate template = chat ? ChatTemplate.of(model.modelDir) : null;
            IdTextLines input = new IdTextLines(prompts, "prompt");
            long count = input.validate();
            err.println("dkv generate: " + count + " prompts from " + prompts + " -> " + out + " ("
                    + (sampling.greedy() ? "greedy" : "sampling: temperature " + temperature + ", top-p " + topP + ", top-k " + topK
                    + ", seed " + seed) + (chat ? ", chat template " + template.file() : "") + ")");
            err.flush();
            try (CausalLm lm = model.loadCausal(err, "generate")) {
                TextGenerator generator = new TextGenerator(lm, batch);
                long t0 = System.nanoTime();
                long[] totals = write(input, generator, template, sampling);
                double seconds = (System.nanoTime() - t0) / 1e9;
                err.printf("dkv generate: wrote %d generations (%d with errors, %d new tokens) to %s in %.1f s (%.1f new tokens/s)%n",
                        totals[0], totals[1], totals[2], out, seconds, totals[2] / Math.max(seconds, 1e-9));
                return 0;
            }
        } catch (IllegalArgumentException | IllegalStateException | UncheckedIOException | TorchException e) {
            err.println("dkv generate: " + e.getMessage());
            return 2;
        }
    }

    /** Written lines, lines with an error, new tokens. */
    private long[] write(IdTextLines input, TextGenerator generator, ChatTemplate template, Sampling sampling) {
        long[] totals = new long[3];
        try {
            if (out.toAbsolutePath().getParent() != null) Files.createDirectories(out.toAbsolutePath().getParent());
            try (BufferedWriter writer = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
                input.forEachChunk(promptsPerCall(batch), chunk -> {
                    List<GenerationRequest> requests = new ArrayList<>();
                    List<Integer> positions = new ArrayList<>();
                    String[] refused = new String[chunk.size()];
                    for (int i = 0; i < chunk.size(); i++) {
                        IdTextLines.Entry e = chunk.get(i);
                        long itemSeed = itemSeed(seed, e.id().asText());
                        try {
                            GenerationRequest r = template == null
                                    ? GenerationRequest.raw(e.text(), maxNewTokens, sampling, itemSeed)
                                    : GenerationRequest.chat(template.renderUserTurn(e.text()), maxNewTokens, sampling, itemSeed);
                            requests.add(r.withStops(stops));
                            positions.add(i);
                        } catch (IllegalArgumentException bad) {
                            refused[i] = bad.getMessage();
                        }
                    }
                    List<Generation> generations = generator.generate(requests);
                    Generation[] byLine = new Generation[chunk.size()];
                    for (int k = 0; k < positions.size(); k++) byLine[positions.get(k)] = generations.get(k);
                    for (int i = 0; i < chunk.size(); i++) {
                        Generation g = byLine[i];
                        String error = g == null ? refused[i] : g.problem();
                        writeLine(writer, chunk.get(i), g, error);
                        totals[0]++;
                        if (error != null) totals[1]++;
                        if (g != null) totals[2] += g.newTokens().length;
                    }
                });
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
        return totals;
    }

    /** The smallest whole number of batches holding {@link #PROMPTS_PER_CALL} prompts. */
    static int promptsPerCall(int batch) {
        return batch * Math.max(1, (PROMPTS_PER_CALL + batch - 1) / batch);
    }

    /** A line's generator seed: the run's seed and the id's text, mixed (SplitMix64 of seed ⊕ the id's hash). */
    static long itemSeed(long seed, String id) {
        long h = 0xcbf29ce484222325L;
        for (byte b : id.getBytes(StandardCharsets.UTF_8)) h = (h ^ (b & 0xff)) * 0x100000001b3L;
        return new SplittableRandom(seed ^ h).nextLong();
    }

    private static void writeLine(BufferedWriter writer, IdTextLines.Entry entry, Generation g, String error) {
        ObjectNode line = JSON.createObjectNode();
        line.set("id", entry.id());
        ArrayNode tokens = line.putArray("new_tokens");
        if (g != null) for (int t : g.newTokens()) tokens.add(t);
        line.put("text", g == null ? "" : g.text());
        if (error != null) line.put("error", error);
        try {
            writer.write(JSON.writeValueAsString(line));
            writer.newLine();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
