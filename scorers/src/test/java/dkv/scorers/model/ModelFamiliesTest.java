package dkv.scorers.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.scorers.fixtures.ReferenceFixture;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import dkv.scorers.torch.Device;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelFamiliesTest {

    /** A copy of the llama fixture with config.json edited. */
    static Path editedCopy(Path dir, String from, String to) throws IOException {
        Path src = ReferenceFixture.load("llama").dir();
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) {
            Files.copy(src.resolve(f), dir.resolve(f));
        }
        String cfg = Files.readString(dir.resolve("config.json"));
        if (!cfg.contains(from)) throw new IllegalStateException("fixture config lacks " + from);
        Files.writeString(dir.resolve("config.json"), cfg.replace(from, to));
        return dir;
    }

    @Test
    void unknownArchitectureIsNamedWithTheSupportedList(@TempDir Path dir) throws IOException {
        editedCopy(dir, "\"model_type\": \"llama\"", "\"model_type\": \"gpt2\"");
        Files.writeString(dir.resolve("config.json"), Files.readString(dir.resolve("config.json"))
                .replace("LlamaForCausalLM", "GPT2LMHeadModel"));
        var e = assertThrows(IllegalArgumentException.class, () -> ModelFamilies.load(dir, Device.cpu(), DType.FLOAT32));
        assertTrue(e.getMessage().contains("GPT2LMHeadModel") && e.getMessage().contains("gpt2")
                && e.getMessage().contains("llama, mistral, qwen2") && e.getMessage().contains(dir.toString()), e.getMessage());
    }

    @Test
    void familyIsFoundByArchitectureWhenModelTypeIsUnknown(@TempDir Path dir) throws IOException {
        editedCopy(dir, "\"model_type\": \"llama\"", "\"model_type\": \"llama-custom\"");
        assertEquals("llama", ModelFamilies.familyOf(ModelSnapshot.open(dir)).name());
    }

    @Test
    void weightShapeDisagreeingWithConfigIsNamed(@TempDir Path dir) throws IOException {
        editedCopy(dir, "\"intermediate_size\": 96", "\"intermediate_size\": 97");
        var e = assertThrows(IllegalArgumentException.class, () -> ModelFamilies.load(dir, Device.cpu(), DType.FLOAT32));
        assertTrue(e.getMessage().contains("mlp.gate_proj.weight") && e.getMessage().contains("[96, 64]"), e.getMessage());
    }

    /**
     * Mistral's sliding window (HF: keys in (q − W, q]): a token before index W sees all it would see without a
     * window, so its logits are unchanged; every later token loses keys, so its logits change.
     */
    @Test
    void theSlidingWindowNarrowsOnlyTokensBeyondIt(@TempDir Path dir) throws IOException {
        Path src = ReferenceFixture.load("mistral").dir();
        try (var files = Files.list(src)) {
            for (Path f : files.toList()) Files.copy(f, dir.resolve(f.getFileName()));
        }
        String cfg = Files.readString(dir.resolve("config.json"));
        Files.writeString(dir.resolve("config.json"), cfg.replace("\"sliding_window\": null", "\"sliding_window\": 6"));
        try (TensorScope _ = TensorScope.open();
             CausalLm windowed = ModelFamilies.loadCausal(dir, Device.cpu(), DType.FLOAT32);
             CausalLm full = ModelFamilies.loadCausal(src, Device.cpu(), DType.FLOAT32)) {
            int[] ids = full.tokenizer().encode("water boils at one hundred degrees at sea level");
            ForwardRequest r = new ForwardRequest(ids, ForwardRequest.consecutive(0, ids.length), KvCache.empty(),
                    AttentionMask.causal(), 0, ids.length, false);
            float[] a = Tensors.toFloatArray(windowed.forward(r).logits());
            float[] b = Tensors.toFloatArray(full.forward(r).logits());
            int vocab = a.length / ids.length;
            for (int q = 0; q < ids.length; q++) {
                double diff = 0;
                for (int v = 0; v < vocab; v++) diff = Math.max(diff, Math.abs(a[q * vocab + v] - b[q * vocab + v]));
                if (q < 6) assertEquals(0.0, diff, 1e-5, "token " + q + " is inside the window");
                else assertTrue(diff > 1e-3, "token " + q + " lost keys to the window, logits moved only " + diff);
            }
        }
    }

    @Test
    void revisionIsTheHfCacheCommitOrAFingerprint(@TempDir Path dir) throws IOException {
        Path snapshot = Files.createDirectories(dir.resolve("models--x--y/snapshots/0123abcd"));
        editedCopy(snapshot, "\"vocab_size\": 420", "\"vocab_size\": 420");
        assertEquals("0123abcd", ModelSnapshot.open(snapshot).revision());
        String fingerprint = ModelSnapshot.open(ReferenceFixture.load("llama").dir()).revision();
        assertEquals(16, fingerprint.length());
        assertEquals(fingerprint, ModelSnapshot.open(ReferenceFixture.load("llama").dir()).revision());
        assertTrue(!fingerprint.equals(ModelSnapshot.open(ReferenceFixture.load("qwen2").dir()).revision()));
    }

    @Test
    void shardedSnapshotListsEveryWeight() {
        SafetensorsIndex index = SafetensorsIndex.open(ReferenceFixture.load("mistral").dir());
        assertTrue(index.entries().values().stream().map(SafetensorsIndex.Entry::file).distinct().count() == 2,
                "the mistral fixture is sharded into two files");
        assertTrue(index.contains("model.layers.2.mlp.down_proj.weight"));
        assertTrue(!index.contains("lm_head.weight"), "tied embeddings: no lm_head in the files");
    }
}
