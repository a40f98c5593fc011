package dkv.scorers.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Safetensors read by hand-written files: dtype cast on load, unaligned data, bad headers. */
class WeightLoaderTest {

    static final float[] VALUES = {1.5f, -2.25f, 0.0078125f, 3072f, -0.5f, 7f};

    /** bfloat16 is the upper half of a float32: exact for these values. */
    static short bf16(float f) {
        return (short) (Float.floatToRawIntBits(f) >>> 16);
    }

    /**
     * Writes a safetensors file with a BF16 tensor "a" [2, 3] and an F32 tensor "b" [3]; the header is padded
     * so the data starts at {@code 8 + headerLength}, deliberately not a multiple of 4 when {@code misalign}.
     */
    static Path write(Path dir, boolean misalign) throws IOException {
        String json = "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[12,24]},\"__metadata__\":{\"format\":\"pt\"}}";
        int pad = (8 - (json.length() % 8)) % 8 + (misalign ? 2 : 0);
        byte[] header = (json + " ".repeat(pad)).getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(8 + header.length + 24).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(header.length).put(header);
        for (float v : VALUES) buf.putShort(bf16(v));
        for (int i = 0; i < 3; i++) buf.putFloat(VALUES[i] * 10);
        Path file = dir.resolve("model.safetensors");
        Files.write(file, buf.array());
        return file;
    }

    @Test
    void castsOnLoadAndHandlesUnalignedData(@TempDir Path dir) throws IOException {
        write(dir, true);
        try (WeightLoader loader = new WeightLoader(SafetensorsIndex.open(dir), Device.cpu(), DType.FLOAT32);
             TensorScope _ = TensorScope.open()) {
            Tensor a = loader.load("a", 2, 3);
            assertEquals(DType.FLOAT32, a.dtype());
            assertArrayEquals(VALUES, Tensors.toFloatArray(a));
            assertArrayEquals(new float[] {15f, -22.5f, 0.078125f}, Tensors.toFloatArray(loader.load("b", 3)));
        }
        try (WeightLoader loader = new WeightLoader(SafetensorsIndex.open(dir), Device.cpu(), DType.BFLOAT16);
             TensorScope _ = TensorScope.open()) {
            Tensor b = loader.load("b", 3);
            assertEquals(DType.BFLOAT16, b.dtype());
            assertArrayEquals(new float[] {15f, -22.5f, 0.078125f}, Tensors.toFloatArray(b));
        }
    }

    @Test
    void wrongShapeAndMissingWeightAreNamed(@TempDir Path dir) throws IOException {
        write(dir, false);
        try (WeightLoader loader = new WeightLoader(SafetensorsIndex.open(dir), Device.cpu(), DType.FLOAT32)) {
            var shape = assertThrows(IllegalArgumentException.class, () -> loader.load("a", 3, 2));
            assertTrue(shape.getMessage().contains("weight a has shape [2, 3]"), shape.getMessage());
            var missing = assertThrows(IllegalArgumentException.class, () -> loader.load("lm_head.weight", 1));
            assertTrue(missing.getMessage().contains("'lm_head.weight'") && missing.getMessage().contains(dir.toString()),
                    missing.getMessage());
        }
    }

    @Test
    void notASafetensorsFileIsNamed(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("model.safetensors"), "this is not a safetensors file at all");
        var e = assertThrows(IllegalArgumentException.class, () -> SafetensorsIndex.open(dir));
        assertTrue(e.getMessage().contains("model.safetensors") && e.getMessage().contains("not a safetensors file"),
                e.getMessage());
    }
}
