package dkv.schemas;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaParseException;
import org.apache.avro.util.ClassSecurityValidator;

/**
 * Writer schemas of earlier contract versions, kept under {@code src/main/resources/dkv/schemas/history/}
 * as {@code <FullName>.v<N>.avsc} and listed in {@code index.txt}, so a reader decodes records that were
 * written before a field was added.
 *
 * <p>Every listed schema is checked when loaded: it must name the record its file name says, and the
 * current schema must be able to read it. A history entry that the current reader cannot resolve would
 * otherwise only fail on the first old record, far from the change that broke it.
 */
public final class SchemaHistory {
    static final String ROOT = "/dkv/schemas/history/";
    private static final String GENERATED_PACKAGE = "dkv.avro.";
    private static volatile boolean trusted;

    private SchemaHistory() {}

    /** Avro 1.12 refuses to instantiate classes from untrusted packages; the generated ones are ours. */
    public static void trustGeneratedPackage() {
        if (trusted) {
            return;
        }
        synchronized (SchemaHistory.class) {
            if (!trusted) {
                // The builder trusts exact class names only; the generated contract is a whole package.
                ClassSecurityValidator.setGlobal(ClassSecurityValidator.composite(
                        ClassSecurityValidator.getGlobal(),
                        type -> type.getName().startsWith(GENERATED_PACKAGE)));
                trusted = true;
            }
        }
    }

    /** Older writer schemas of {@code current}'s record, each verified readable by {@code current}. */
    public static List<Schema> writerSchemasOf(Schema current) {
        List<Schema> schemas = new ArrayList<>();
        for (String file : indexedFiles()) {
            if (!file.startsWith(current.getFullName() + ".v")) {
                continue;
            }
            Schema old = parse(file);
            if (!old.getFullName().equals(current.getFullName())) {
                throw new IllegalStateException(ROOT + file + ": declares " + old.getFullName()
                        + " but its file name says " + current.getFullName());
            }
            var compatibility = SchemaCompatibility.checkReaderWriterCompatibility(current, old);
            if (compatibility.getType() != SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
                throw new IllegalStateException(ROOT + file + ": the current " + current.getFullName()
                        + " cannot read it: " + compatibility.getDescription());
            }
            schemas.add(old);
        }
        return schemas;
    }

    /** The file names listed in {@code index.txt}, in order; empty when there is no history. */
    public static List<String> indexedFiles() {
        try (InputStream index = SchemaHistory.class.getResourceAsStream(ROOT + "index.txt")) {
            if (index == null) {
                return List.of();
            }
            return new String(index.readAllBytes(), StandardCharsets.UTF_8).lines()
                    .map(String::strip)
                    .filter(line -> !line.isEmpty() && !line.startsWith("#"))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + ROOT + "index.txt", e);
        }
    }

    /** Parses one history file on its own (each file is self-contained: nested types are inlined). */
    public static Schema parse(String file) {
        try (InputStream in = SchemaHistory.class.getResourceAsStream(ROOT + file)) {
            if (in == null) {
                throw new IllegalStateException(ROOT + "index.txt lists a missing file: " + file);
            }
            return new Schema.Parser().parse(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + ROOT + file, e);
        } catch (SchemaParseException e) {
            throw new IllegalStateException(ROOT + file + ": " + e.getMessage(), e);
        }
    }
}
