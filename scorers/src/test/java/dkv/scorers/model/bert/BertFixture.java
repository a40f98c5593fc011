package dkv.scorers.model.bert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The BERT sentence-encoder fixtures written by {@code ops/reference/bert_fixtures.py}: three snapshots of one tiny
 * encoder (Hub layout, "bert."-prefixed weights, sentence-transformers 6's re-save) and the HF reference embeddings.
 */
record BertFixture(int maxSeqLength, List<Text> texts) {

    static final List<String> SNAPSHOTS = List.of("bert", "bert_prefixed", "bert_st6");

    /** One fixture text: HF's token ids after truncation and its mean, CLS and max pooled unit vectors. */
    record Text(String id, String text, int[] ids, float[] mean, float[] cls, float[] max) {}

    static Path dir(String snapshot) {
        URL url = BertFixture.class.getResource("/fixtures/" + snapshot + "/config.json");
        if (url == null) throw new IllegalStateException("fixture " + snapshot + " missing from test resources");
        try {
            return Path.of(url.toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static BertFixture load() {
        try {
            JsonNode root = new ObjectMapper().readTree(dir("bert").resolve("embeddings.json").toFile());
            List<Text> texts = new ArrayList<>();
            for (JsonNode t : root.get("texts")) {
                int[] ids = new int[t.get("ids").size()];
                for (int i = 0; i < ids.length; i++) ids[i] = t.get("ids").get(i).asInt();
                texts.add(new Text(t.get("id").asText(), t.get("text").asText(), ids, floats(t.get("embedding")),
                        floats(t.get("cls_embedding")), floats(t.get("max_embedding"))));
            }
            return new BertFixture(root.get("max_seq_length").asInt(), texts);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    List<String> strings() {
        return texts.stream().map(Text::text).toList();
    }

    /** A writable copy of a fixture snapshot, for tests that edit its files. */
    static Path copy(String snapshot, Path to) throws IOException {
        Path from = dir(snapshot);
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : files.toList()) {
                Path target = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) Files.createDirectories(target);
                else Files.copy(f, target);
            }
        }
        return to;
    }

    private static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) array.get(i).asDouble();
        return out;
    }
}
