package dkv.scorers.model.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dkv.scorers.model.SafetensorsIndex;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints written by real {@code torch.save} (ops/reference/torch_checkpoint_fixtures.py): every tensor's bytes
 * equal, bit for bit, the bytes the script read back from torch; hostile pickles are refused and not run.
 */
class TorchCheckpointTest {

    static final ObjectMapper JSON = new ObjectMapper();
    /** What the os.system / eval payloads would create; Python's own unpickler does (the script checks). */
    static final Path MARKER = Path.of("/tmp/dkv-checkpoint-payload-ran");

    static Path fixture(String name) {
        try {
            return Path.of(TorchCheckpointTest.class.getResource("/fixtures/torch-bin/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("fixture torch-bin/" + name + " missing from test resources", e);
        }
    }

    static JsonNode expected(Path dir) throws IOException {
        return JSON.readTree(dir.resolve("expected.json").toFile());
    }

    /** Compares names (in pickle order), dtype, shape, storage offset, parameter flag and raw bytes. */
    static void assertMatches(JsonNode expected, TorchCheckpointIndex index) {
        List<String> names = new ArrayList<>();
        expected.fieldNames().forEachRemaining(names::add);
        assertEquals(names, List.copyOf(index.entries().keySet()));
        try (MappedWeightBytes bytes = new MappedWeightBytes()) {
            for (String name : names) {
                JsonNode e = expected.get(name);
                SafetensorsIndex.Entry entry = index.entry(name);
                assertEquals(e.get("dtype").asText(), entry.dtype(), name);
                assertArrayEquals(JSON.convertValue(e.get("shape"), long[].class), entry.shape(), name);
                assertEquals(e.get("storage_offset").asLong(), index.pickled(name).storageOffset(), name);
                assertEquals(e.get("parameter").asBoolean(), index.pickled(name).parameter(), name);
                byte[] actual = bytes.bytes(entry).toArray(ValueLayout.JAVA_BYTE);
                assertEquals(e.get("hex").asText(), HexFormat.of().formatHex(actual), name);
            }
        }
    }

    @Test
    void singleFileMatchesTorchBitForBit() throws IOException {
        Path dir = fixture("single");
        TorchCheckpointIndex index = TorchCheckpointIndex.open(dir);
        assertMatches(expected(dir), index);

        PickledTensor a = index.pickled("shared.a");
        PickledTensor b = index.pickled("shared.b");
        assertEquals(a.storageKey(), b.storageKey(), "two views over one storage");
        assertEquals(16, a.storageNumel());
        assertEquals(index.entry("shared.a").offset() + 8 * 2, index.entry("shared.b").offset());
        assertEquals(index.entry("word_embeddings.weight").offset(), index.entry("lm_head.weight").offset(), "tied");
        assertTrue(index.pickled("param").parameter());
        assertEquals("F32", index.entry("param").dtype());
        assertEquals("F32", index.entry("ln.weight").dtype());
        assertEquals("F16", index.entry("dense.weight").dtype());
        assertEquals("BF16", index.entry("bf16.weight").dtype());
        assertEquals(0, index.entry("scalar").shape().length);
        assertEquals(0, index.entry("empty").length());
    }

    @Test
    void mappedBytesUploadToLibtorchWithTheirValues() throws IOException {
        Path dir = fixture("single");
        JsonNode expected = expected(dir);
        TorchCheckpointIndex index = TorchCheckpointIndex.open(dir);
        int checked = 0;
        try (MappedWeightBytes bytes = new MappedWeightBytes(); TensorScope _ = TensorScope.open()) {
            for (var e : index.entries().values()) {
                JsonNode values = expected.get(e.name()).get("values");
                if (values == null || e.length() == 0) continue;
                DType stored = switch (e.dtype()) {
                    case "F16" -> DType.FLOAT16;
                    case "BF16" -> DType.BFLOAT16;
                    case "F32" -> DType.FLOAT32;
                    default -> throw new AssertionError(e.dtype());
                };
                MemorySegment segment = bytes.bytes(e);
                Tensor t = Ops.to(Tensors.fromBlob(segment, stored, e.shape()), DType.FLOAT32, Device.cpu());
                float[] want = new float[values.size()];
                for (int i = 0; i < want.length; i++) want[i] = (float) values.get(i).asDouble();
                assertArrayEquals(want, Tensors.toFloatArray(t), e.name());
                checked++;
            }
        }
        assertEquals(11, checked); // all but "empty" (no bytes) and "specials" (inf, NaN: compared as bytes only)
    }

    @Test
    void shardsFollowTheWeightMapAndIgnoreTheStaleTotalSize() throws IOException {
        Path dir = fixture("sharded");
        assertEquals(1, JSON.readTree(dir.resolve(TorchCheckpointIndex.INDEX).toFile()).at("/metadata/total_size").asInt());
        TorchCheckpointIndex index = TorchCheckpointIndex.open(dir);
        JsonNode expected = expected(dir);
        assertMatches(expected, index);
        assertEquals("pytorch_model-00001-of-00002.bin", index.entry("layers.0.weight").file().getFileName().toString());
        assertEquals("pytorch_model-00002-of-00002.bin", index.entry("final.bias").file().getFileName().toString());
        assertNotEquals(index.entry("layers.0.weight").file(), index.entry("layers.1.weight").file());
    }

    /** Past 4 GiB torch writes ZIP64 sizes, offsets and end records; the fixture has them for every record. */
    @Test
    void zip64RecordsAreFollowed() throws IOException {
        Path dir = fixture("zip64");
        assertMatches(expected(dir), TorchCheckpointIndex.open(dir));
    }

    @Test
    void weightMapThatDisagreesWithTheShardsIsNamed(@TempDir Path tmp) throws IOException {
        Path src = fixture("sharded");
        for (String f : List.of("pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin")) {
            Files.copy(src.resolve(f), tmp.resolve(f));
        }
        ObjectNode index = (ObjectNode) JSON.readTree(src.resolve(TorchCheckpointIndex.INDEX).toFile());
        ((ObjectNode) index.get("weight_map")).put("layers.0.weight", "pytorch_model-00002-of-00002.bin");
        JSON.writeValue(tmp.resolve(TorchCheckpointIndex.INDEX).toFile(), index);
        var e = assertThrows(IllegalArgumentException.class, () -> TorchCheckpointIndex.open(tmp));
        assertEquals(tmp.resolve(TorchCheckpointIndex.INDEX) + ": weight_map puts 'layers.0.weight' in "
                + "pytorch_model-00002-of-00002.bin, which has no such tensor (it is in pytorch_model-00001-of-00002.bin)",
                e.getMessage());

        ((ObjectNode) index.get("weight_map")).put("layers.0.weight", "pytorch_model-00003-of-00002.bin");
        JSON.writeValue(tmp.resolve(TorchCheckpointIndex.INDEX).toFile(), index);
        e = assertThrows(IllegalArgumentException.class, () -> TorchCheckpointIndex.open(tmp));
        assertTrue(e.getMessage().endsWith("shard pytorch_model-00003-of-00002.bin does not exist"), e.getMessage());

        var missing = assertThrows(IllegalArgumentException.class,
                () -> TorchCheckpointIndex.open(fixture("single")).entry("transformer.word_embeddings.weight"));
        assertTrue(missing.getMessage().contains("'transformer.word_embeddings.weight'"), missing.getMessage());
    }

    /** The refusal happens before anything is looked up: the payload's file never appears. */
    @Test
    void payloadsAreRefusedAndNeverRun() throws IOException {
        Files.deleteIfExists(MARKER);
        Map<String, String> refusedGlobal = Map.of(
                "os_system.bin", "refused global posix.system at byte 168",
                "builtins_eval.bin", "refused global __builtin__.eval at byte 168",
                "unknown_global.bin", "refused global __main__.Sneaky at byte 168");
        for (var c : refusedGlobal.entrySet()) {
            Path file = fixture("hostile/" + c.getKey());
            var e = assertThrows(RefusedPickleException.class, () -> TorchCheckpointFile.read(file));
            assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
            assertTrue(e.getMessage().contains(c.getValue()), e.getMessage());
            assertTrue(e.getMessage().contains("nothing was executed"), e.getMessage());
            assertOneLine(e);
        }
        Path inst = fixture("hostile/unknown_opcode.bin");
        var e = assertThrows(RefusedPickleException.class, () -> TorchCheckpointFile.read(inst));
        assertEquals(inst + ": archive/data.pkl: refused opcode 0x69 'i' (INST) at byte 12 "
                + "(not one a torch state dict uses; nothing was executed)", e.getMessage());
        assertFalse(Files.exists(MARKER), "a payload ran");
    }

    @Test
    void brokenCheckpointsNameTheFileAndWhatIsWrong() {
        assertRefused("truncated_zip.bin", "not a readable torch zip checkpoint (no end-of-central-directory record");
        assertRefused("truncated_pickle.bin", "archive/data.pkl: truncated pickle");
        assertRefused("compressed.bin", "zip record archive/data.pkl is compressed (method 8)");
        assertRefused("noncontiguous.bin", "tensor 't' is not contiguous (shape [3, 2], strides [1, 3])");
    }

    @Test
    void aDirectoryWithoutACheckpointIsNamed(@TempDir Path tmp) {
        var e = assertThrows(IllegalArgumentException.class, () -> TorchCheckpointIndex.open(tmp));
        assertEquals(tmp + ": no pytorch_model.bin or pytorch_model.bin.index.json", e.getMessage());
        assertFalse(TorchCheckpointIndex.present(tmp));
    }

    static void assertRefused(String name, String part) {
        Path file = fixture("hostile/" + name);
        var e = assertThrows(IllegalArgumentException.class, () -> TorchCheckpointFile.read(file));
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(part), e.getMessage());
        assertOneLine(e);
    }

    static void assertOneLine(Exception e) {
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }
}
