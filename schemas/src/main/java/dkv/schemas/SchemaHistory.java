package dkv.schemas;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.util.ClassSecurityValidator;

/**
 * Writer schemas of earlier contract versions, kept under {@code src/main/resources/dkv/schemas/history/}
 * as {@code <FullName>.v<N>.avsc} and listed in {@code index.txt}, so a reader decodes records that were
 * written before a field was added.
 */
public final class SchemaHistory {
    private static final String ROOT = "/dkv/schemas/history/";
    private static volatile boolean trusted;

    private SchemaHistory() {}

    /** Avro 1.12 refuses to instantiate classes from untrusted packages; the generated ones are ours. */
    public static void trustGeneratedPackage() {
        if (trusted) {
            return;
        }
        synchronized (SchemaHistory.class) {
            if (!trusted) {
                ClassSecurityValidator.setGlobal(ClassSecurityValidator.composite(
                        ClassSecurityValidator.getGlobal(),
                        ClassSecurityValidator.builder().add("dkv.avro.").build()));
                trusted = true;
            }
        }
    }

    public static List<Schema> writerSchemasOf(String fullName) {
        List<Schema> schemas = new ArrayList<>();
        try (InputStream index = SchemaHistory.class.getResourceAsStream(ROOT + "index.txt")) {
            if (index == null) {
                return schemas;
            }
            for (String line : new String(index.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
                String file = line.strip();
                if (file.isEmpty() || !file.startsWith(fullName + ".v")) {
                    continue;
                }
                try (InputStream in = SchemaHistory.class.getResourceAsStream(ROOT + file)) {
                    if (in == null) {
                        throw new IllegalStateException("schema history lists a missing file: " + ROOT + file);
                    }
                    schemas.add(new Schema.Parser().parse(in));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read schema history for " + fullName, e);
        }
        return schemas;
    }
}
