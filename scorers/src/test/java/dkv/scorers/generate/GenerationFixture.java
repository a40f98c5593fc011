package dkv.scorers.generate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;

/** The test resources of ops/reference/generation_fixtures.py: tiny model directories and HF's recorded outputs. */
public final class GenerationFixture {

    private static final ObjectMapper JSON = new ObjectMapper();

    private GenerationFixture() {
    }

    /** A fixture directory under test resources' {@code fixtures/}. */
    public static Path dir(String name) {
        URL url = GenerationFixture.class.getResource("/fixtures/" + name);
        if (url == null) throw new IllegalStateException("fixture " + name + " missing from test resources");
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code generation/<file>} parsed. */
    public static JsonNode json(String file) {
        try {
            return JSON.readTree(dir("generation").resolve(file).toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).intValue();
        return out;
    }
}
