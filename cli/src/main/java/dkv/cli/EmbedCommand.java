package dkv.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.scorers.model.ModelFamilies;
import dkv.scorers.model.ModelSnapshot;
import dkv.scorers.model.TextEncoder;
import dkv.scorers.torch.TorchException;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Sentence embeddings offline: every {@code {id, text}} line through a text encoder (a BERT sentence-transformers
 * snapshot such as all-MiniLM-L6-v2) into one {@code {id, tokens, embedding}} line, in input order. Vectors have
 * unit length, so the cosine similarity of two texts is the dot product of their embeddings. The input is checked
 * whole before libtorch and the model load, so a bad line fails in a second.
 */
@Command(name = "embed", mixinStandardHelpOptions = true,
        description = "Embed texts with a sentence encoder (BERT sentence-transformers snapshot): {id, text} JSON lines in,"
                + " {id, tokens, embedding} JSON lines out (unit vectors: cosine = dot product).")
public final class EmbedCommand implements Callable<Integer> {

    /** Texts handed to the encoder per call; it cuts them into padded batches of similar length itself. */
    static final int TEXTS_PER_CALL = 1024;

    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandSpec spec;

    @Mixin
    ScorerModelOptions model;

    @Option(names = "--texts", required = true, paramLabel = "FILE", description = "JSON lines {\"id\": string|integer, \"text\": string}")
    Path texts;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "output JSON lines {\"id\", \"tokens\", \"embedding\"}")
    Path out;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        try {
            ModelFamilies.familyOf(ModelSnapshot.open(model.modelDir)); // a missing or unsupported model fails before anything loads
            IdTextLines input = new IdTextLines(texts, "text");
            long count = input.validate();
            err.println("dkv embed: " + count + " texts from " + texts + " -> " + out);
            err.flush();
            try (TextEncoder encoder = TextEncoder.require(model.load(err, "embed"))) {
                long t0 = System.nanoTime();
                long written = write(input, encoder);
                err.printf("dkv embed: wrote %d embeddings (dimension %d, at most %d tokens) to %s in %.1f s%n", written,
                        encoder.dimension(), encoder.maxTokens(), out, (System.nanoTime() - t0) / 1e9);
                return 0;
            }
        } catch (IllegalArgumentException | IllegalStateException | UncheckedIOException | TorchException e) {
            err.println("dkv embed: " + e.getMessage());
            return 2;
        }
    }

    private long write(IdTextLines input, TextEncoder encoder) {
        long[] written = {0};
        try {
            if (out.toAbsolutePath().getParent() != null) Files.createDirectories(out.toAbsolutePath().getParent());
            try (BufferedWriter writer = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
                input.forEachChunk(TEXTS_PER_CALL, chunk -> {
                    List<TextEncoder.Embedding> embeddings = encoder.embed(chunk.stream().map(IdTextLines.Entry::text).toList());
                    for (int i = 0; i < chunk.size(); i++) {
                        writeLine(writer, chunk.get(i), embeddings.get(i));
                    }
                    written[0] += chunk.size();
                });
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
        return written[0];
    }

    private static void writeLine(BufferedWriter writer, IdTextLines.Entry entry, TextEncoder.Embedding embedding) {
        ObjectNode line = JSON.createObjectNode();
        line.set("id", entry.id());
        line.put("tokens", embedding.tokens());
        ArrayNode vector = line.putArray("embedding");
        for (float v : embedding.vector()) vector.add(v); // float: written in its shortest exact form
        try {
            writer.write(JSON.writeValueAsString(line));
            writer.newLine();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
