package dkv.scorers.model.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Hand-assembled pickles for the cases torch.save does not write but a hostile or damaged file may. */
class StateDictUnpicklerTest {

    /** A tiny pickle assembler: opcodes and their arguments as protocol 2 lays them out. */
    static final class Pickle {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Pickle op(int... bytes) {
            for (int b : bytes) out.write(b);
            return this;
        }

        Pickle str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            return op(0x8c, b.length).raw(b);
        }

        Pickle global(String module, String name) {
            return op('c').raw((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
        }

        Pickle raw(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    /** {@code OrderedDict()} then MARK: the opening of every torch state dict. */
    static Pickle stateDict() {
        return new Pickle().op(0x80, 2).global("collections", "OrderedDict").op(')', 'R', '(');
    }

    /** {@code _rebuild_tensor_v2(('storage', torch.FloatStorage, '0', 'cpu', 6), offset, (2, 3), (3, 1), False, OrderedDict())}. */
    static Pickle tensor(Pickle p, int offset) {
        p.global("torch._utils", "_rebuild_tensor_v2").op('(', '(').str("storage").global("torch", "FloatStorage");
        return p.str("0").str("cpu").op('K', 6, 't', 'Q', 'K', offset, 'K', 2, 'K', 3, 0x86, 'K', 3, 'K', 1, 0x86, 0x89)
                .global("collections", "OrderedDict").op(')', 'R', 't', 'R');
    }

    @Test
    void readsAStateDictWithAMemoizedTensor() {
        Pickle p = stateDict().str("w");
        tensor(p, 0).op('q', 7); // BINPUT the tensor
        p.str("alias").op('h', 7); // the same tensor under a second name
        p.str("v");
        tensor(p, 0);
        p.op('u', '.');
        Map<String, PickledTensor> sd = StateDictUnpickler.read(p.bytes(), "mem");
        assertEquals(java.util.List.of("w", "alias", "v"), java.util.List.copyOf(sd.keySet()));
        assertEquals(sd.get("w"), sd.get("alias"));
        assertArrayEquals(new long[] {2, 3}, sd.get("w").shape());
        assertArrayEquals(new long[] {3, 1}, sd.get("w").strides());
        assertEquals(StorageType.FLOAT, sd.get("w").storage());
    }

    @Test
    void callingAStorageClassIsRefused() {
        Pickle p = stateDict().str("w").global("torch", "FloatStorage").op(')', 'R', 'u', '.');
        var e = assertThrows(RefusedPickleException.class, () -> StateDictUnpickler.read(p.bytes(), "f.bin: data.pkl"));
        assertTrue(e.getMessage().startsWith("f.bin: data.pkl: refused call of torch.FloatStorage at byte"), e.getMessage());
    }

    @Test
    void stackGlobalIsCheckedLikeGlobalAndNamesStayOnOneLine() {
        Pickle p = new Pickle().op(0x80, 4).str("os\nx").str("system").op(0x93);
        var e = assertThrows(RefusedPickleException.class, () -> StateDictUnpickler.read(p.bytes(), "f.bin: data.pkl"));
        assertTrue(e.getMessage().startsWith("f.bin: data.pkl: refused global os\\x0ax.system at byte 16 "), e.getMessage());
    }

    @Test
    void nonTensorValuesAndDamageAreNamed() {
        Pickle floatValue = stateDict().str("lr").op('G').raw(new byte[] {0x3f, (byte) 0xf8, 0, 0, 0, 0, 0, 0}).op('u', '.');
        var e = assertThrows(IllegalArgumentException.class, () -> StateDictUnpickler.read(floatValue.bytes(), "f.bin"));
        assertEquals("f.bin: entry 'lr' is a float, not a tensor", e.getMessage());

        Pickle badMemo = stateDict().op('h', 9);
        e = assertThrows(IllegalArgumentException.class, () -> StateDictUnpickler.read(badMemo.bytes(), "f.bin"));
        assertTrue(e.getMessage().endsWith("memo entry 9 read before it was written"), e.getMessage());

        Pickle noStop = stateDict().str("w");
        byte[] cut = tensor(noStop, 0).op('u').bytes();
        e = assertThrows(IllegalArgumentException.class, () -> StateDictUnpickler.read(cut, "f.bin"));
        assertEquals("f.bin: truncated pickle (" + cut.length + " bytes): no STOP opcode", e.getMessage());
    }
}
