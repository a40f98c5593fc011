package dkv.scorers.model.checkpoint;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the {@code data.pkl} of a torch zip checkpoint into its state dict, name → {@link PickledTensor}, without
 * executing anything. A pickle is a program: Python's unpickler imports whatever module.name a GLOBAL opcode names
 * and calls it on REDUCE, which is how a hostile checkpoint runs {@code os.system}. This reader implements only the
 * opcodes {@code torch.save} emits for a state dict (protocol 2, plus the protocol 4 framing/memo opcodes) and
 * knows only the globals a state dict needs; each of those is interpreted by hand here. Any other global or opcode
 * is refused with a {@link RefusedPickleException} at the point it appears, before anything is looked up.
 */
final class StateDictUnpickler {

    /** The only globals a pickle may name, with what REDUCE does for the callable ones. */
    private enum Callable { ORDERED_DICT, REBUILD_TENSOR_V2, REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE }

    /** A named global that passed the allow-list: a callable, or a storage class (only valid in persistent ids). */
    private record Global(String qualifiedName, Callable callable, StorageType storage) {}

    /** What a persistent id {@code ('storage', torch.XStorage, key, location, numel)} stands for. */
    private record StorageRef(StorageType type, String key, long numel) {}

    private static final String ALLOWED = "collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
            + "torch._utils._rebuild_parameter[_with_state] and torch.*Storage";

    private final String source;
    private final ByteBuffer in;
    private final List<Object> stack = new ArrayList<>();
    private final Deque<Integer> marks = new ArrayDeque<>();
    private final Map<Long, Object> memo = new HashMap<>();
    private int opcodeAt;

    private StateDictUnpickler(byte[] pickle, String source) {
        this.source = source;
        this.in = ByteBuffer.wrap(pickle).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The state dict pickled in {@code pickle}, in the pickle's order. {@code source} names the file and record
     * (e.g. {@code /m/pytorch_model.bin: archive/data.pkl}) in every error.
     */
    static Map<String, PickledTensor> read(byte[] pickle, String source) {
        return new StateDictUnpickler(pickle, source).stateDict();
    }

    private Map<String, PickledTensor> stateDict() {
        Object result = run();
        if (!(result instanceof Map<?, ?> map)) {
            throw malformed("the pickle holds a " + typeName(result) + ", not a state dict");
        }
        Map<String, PickledTensor> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getKey() instanceof String name)) throw malformed("state dict key " + e.getKey() + " is not a string");
            if (!(e.getValue() instanceof PickledTensor t)) {
                throw new IllegalArgumentException(source + ": entry '" + printable(name) + "' is a "
                        + typeName(e.getValue()) + ", not a tensor");
            }
            out.put(name, t);
        }
        return out;
    }

    private Object run() {
        while (true) {
            if (!in.hasRemaining()) throw truncated("no STOP opcode");
            opcodeAt = in.position();
            int op = u8();
            switch (op) {
                case 0x80 -> { // PROTO
                    int protocol = u8();
                    if (protocol > 5) throw malformed("unknown pickle protocol " + protocol);
                }
                case 0x95 -> u64("FRAME"); // FRAME: a length hint only
                case '}' -> push(new LinkedHashMap<>()); // EMPTY_DICT
                case ']' -> push(new ArrayList<>()); // EMPTY_LIST
                case ')' -> push(tuple(List.of())); // EMPTY_TUPLE
                case '(' -> marks.push(stack.size()); // MARK
                case 'X' -> push(string(u32("BINUNICODE"))); // BINUNICODE
                case 0x8c -> push(string(u8())); // SHORT_BINUNICODE
                case 0x8d -> push(string(u64("BINUNICODE8"))); // BINUNICODE8
                case 'q' -> memo.put((long) u8(), top()); // BINPUT
                case 'r' -> memo.put(u32("LONG_BINPUT"), top()); // LONG_BINPUT
                case 0x94 -> memo.put((long) memo.size(), top()); // MEMOIZE
                case 'h' -> push(memoGet(u8())); // BINGET
                case 'j' -> push(memoGet(u32("LONG_BINGET"))); // LONG_BINGET
                case '0' -> pop(); // POP
                case '1' -> popMark(); // POP_MARK
                case '2' -> push(top()); // DUP
                case 't' -> push(tuple(popMark())); // TUPLE
                case 0x85 -> push(tuple(popN(1))); // TUPLE1
                case 0x86 -> push(tuple(popN(2))); // TUPLE2
                case 0x87 -> push(tuple(popN(3))); // TUPLE3
                case 'l' -> push(new ArrayList<>(popMark())); // LIST
                case 'd' -> { // DICT
                    Map<Object, Object> dict = new LinkedHashMap<>();
                    putPairs(dict, popMark());
                    push(dict);
                }
                case 'a' -> { // APPEND
                    Object value = pop();
                    list(top(), "APPEND").add(value);
                }
                case 'e' -> { // APPENDS
                    List<Object> items = popMark();
                    list(top(), "APPENDS").addAll(items);
                }
                case 's' -> { // SETITEM
                    Object value = pop();
                    Object key = pop();
                    dict(top(), "SETITEM").put(key, value);
                }
                case 'u' -> { // SETITEMS
                    List<Object> items = popMark();
                    putPairs(dict(top(), "SETITEMS"), items);
                }
                case 'J' -> push((long) i32("BININT")); // BININT
                case 'K' -> push((long) u8()); // BININT1
                case 'M' -> push((long) u16()); // BININT2
                case 0x8a -> push(longOf(bytes(u8(), "LONG1"))); // LONG1
                case 0x8b -> push(longOf(bytes(i32("LONG4"), "LONG4"))); // LONG4
                case 'G' -> push(Double.longBitsToDouble(Long.reverseBytes(in.getLong(need(8, "BINFLOAT"))))); // BINFLOAT is big-endian
                case 0x88 -> push(Boolean.TRUE); // NEWTRUE
                case 0x89 -> push(Boolean.FALSE); // NEWFALSE
                case 'N' -> push(null); // NONE
                case 'c' -> push(global(line("GLOBAL"), line("GLOBAL"))); // GLOBAL
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw malformed("STACK_GLOBAL needs two strings");
                    }
                    push(global(m, n));
                }
                case 'Q' -> push(persistentLoad(pop())); // BINPERSID
                case 'R' -> { // REDUCE
                    Object args = pop();
                    Object callable = pop();
                    push(reduce(callable, args));
                }
                case 'b' -> build(pop(), top()); // BUILD
                case '.' -> { // STOP
                    Object result = pop();
                    if (!stack.isEmpty() || !marks.isEmpty()) throw malformed("values left on the stack at STOP");
                    return result;
                }
                default -> throw new RefusedPickleException(source + ": refused opcode " + opcodeName(op) + " at byte "
                        + opcodeAt + " (not one a torch state dict uses; nothing was executed)");
            }
        }
    }

    /** Resolves a global against the allow-list only; nothing outside it is ever looked up, let alone imported. */
    private Global global(String module, String name) {
        String qualified = module + "." + name;
        Callable callable = switch (qualified) {
            case "collections.OrderedDict" -> Callable.ORDERED_DICT;
            case "torch._utils._rebuild_tensor_v2" -> Callable.REBUILD_TENSOR_V2;
            case "torch._utils._rebuild_parameter" -> Callable.REBUILD_PARAMETER;
            case "torch._utils._rebuild_parameter_with_state" -> Callable.REBUILD_PARAMETER_WITH_STATE;
            default -> null;
        };
        if (callable != null) return new Global(qualified, callable, null);
        if (module.equals("torch") || module.equals("torch.storage")) {
            StorageType storage = StorageType.ofClassName(name).orElse(null);
            if (storage != null) return new Global(qualified, null, storage);
        }
        throw new RefusedPickleException(source + ": refused global " + printable(qualified) + " at byte " + opcodeAt
                + " (a torch state dict needs only " + ALLOWED + "; nothing was executed)");
    }

    private Object reduce(Object callable, Object args) {
        if (!(callable instanceof Global g) || g.callable() == null) {
            String what = callable instanceof Global g ? g.qualifiedName() : typeName(callable);
            throw new RefusedPickleException(source + ": refused call of " + printable(what) + " at byte " + opcodeAt
                    + " (not callable in a torch state dict; nothing was executed)");
        }
        List<?> a = tupleArgs(args, g);
        return switch (g.callable()) {
            case ORDERED_DICT -> {
                if (!a.isEmpty()) throw malformed("collections.OrderedDict called with arguments");
                yield new LinkedHashMap<>();
            }
            case REBUILD_TENSOR_V2 -> rebuildTensor(a);
            case REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE -> {
                // (data, requires_grad, backward_hooks[, state]): the state is Python attributes of the
                // Parameter object, which do not touch its bytes
                if (a.size() < 3 || !(a.getFirst() instanceof PickledTensor t)) {
                    throw malformed(g.qualifiedName() + " needs (tensor, requires_grad, hooks)");
                }
                requireNoHooks(a.get(2));
                yield t.asParameter();
            }
        };
    }

    /** {@code _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])}. */
    private PickledTensor rebuildTensor(List<?> a) {
        if (a.size() < 6 || a.size() > 7 || !(a.get(0) instanceof StorageRef storage)
                || !(a.get(1) instanceof Long offset)) {
            throw malformed("_rebuild_tensor_v2 needs (storage, offset, size, stride, requires_grad, hooks[, metadata])");
        }
        long[] shape = longs(a.get(2), "size");
        long[] strides = longs(a.get(3), "stride");
        if (shape.length != strides.length) throw malformed("_rebuild_tensor_v2 size and stride differ in length");
        requireNoHooks(a.get(5));
        // metadata carries flags such as conj/neg bits that change what the bytes mean: only none is accepted
        if (a.size() == 7 && a.get(6) != null && !(a.get(6) instanceof Map<?, ?> m && m.isEmpty())) {
            throw malformed("tensor metadata " + a.get(6) + " is not supported");
        }
        for (long d : shape) if (d < 0) throw malformed("negative size in " + java.util.Arrays.toString(shape));
        if (offset < 0) throw malformed("negative storage offset " + offset);
        return new PickledTensor(storage.type(), storage.key(), storage.numel(), offset, shape, strides, false);
    }

    private void requireNoHooks(Object hooks) {
        if (hooks != null && !(hooks instanceof Map<?, ?> m && m.isEmpty())) {
            throw malformed("backward hooks are not supported");
        }
    }

    /** {@code ('storage', torch.XStorage, key, location, numel)}: a storage record in the zip. */
    private StorageRef persistentLoad(Object pid) {
        if (pid instanceof List<?> t && t.size() == 5 && "storage".equals(t.get(0)) && t.get(1) instanceof Global g
                && g.storage() != null && t.get(2) instanceof String key && t.get(3) instanceof String
                && t.get(4) instanceof Long numel && numel >= 0) {
            return new StorageRef(g.storage(), key, numel);
        }
        throw malformed("persistent id " + printable(String.valueOf(pid))
                + " is not ('storage', torch.<Type>Storage, key, location, numel)");
    }

    /** BUILD sets an object's state. The one case a state dict has: its {@code _metadata} attribute, not needed. */
    private void build(Object state, Object target) {
        if (target instanceof Map<?, ?>) return;
        throw new RefusedPickleException(source + ": refused BUILD of a " + typeName(target) + " at byte " + opcodeAt
                + " (only the state dict itself takes a state; nothing was executed)");
    }

    private List<?> tupleArgs(Object args, Global g) {
        if (args instanceof List<?> l) return l;
        throw malformed(g.qualifiedName() + " called with a " + typeName(args) + " instead of a tuple");
    }

    private long[] longs(Object value, String field) {
        if (!(value instanceof List<?> l)) throw malformed("tensor " + field + " is a " + typeName(value));
        long[] out = new long[l.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(l.get(i) instanceof Long v)) throw malformed("tensor " + field + " holds a " + typeName(l.get(i)));
            out[i] = v;
        }
        return out;
    }

    private void putPairs(Map<Object, Object> dict, List<Object> items) {
        if (items.size() % 2 != 0) throw malformed("odd number of items for a dict");
        for (int i = 0; i < items.size(); i += 2) dict.put(items.get(i), items.get(i + 1));
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object o, String op) {
        if (o instanceof LinkedHashMap<?, ?> m) return (Map<Object, Object>) m;
        throw malformed(op + " on a " + typeName(o));
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o, String op) {
        if (o instanceof ArrayList<?> l) return (List<Object>) l;
        throw malformed(op + " on a " + typeName(o));
    }

    /** Tuples are unmodifiable lists (which APPEND refuses); lists are {@link ArrayList}s. */
    private static List<Object> tuple(List<Object> items) {
        return Collections.unmodifiableList(new ArrayList<>(items));
    }

    private Object memoGet(long index) {
        if (!memo.containsKey(index)) throw malformed("memo entry " + index + " read before it was written");
        return memo.get(index);
    }

    private void push(Object o) {
        stack.add(o);
    }

    private Object top() {
        int floor = marks.isEmpty() ? 0 : marks.peek();
        if (stack.size() <= floor) throw malformed("stack underflow");
        return stack.getLast();
    }

    private Object pop() {
        Object o = top();
        stack.removeLast();
        return o;
    }

    private List<Object> popN(int n) {
        int floor = marks.isEmpty() ? 0 : marks.peek();
        if (stack.size() - n < floor) throw malformed("stack underflow");
        List<Object> tail = new ArrayList<>(stack.subList(stack.size() - n, stack.size()));
        stack.subList(stack.size() - n, stack.size()).clear();
        return tail;
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) throw malformed("no MARK to pop to");
        int at = marks.pop();
        List<Object> items = new ArrayList<>(stack.subList(at, stack.size()));
        stack.subList(at, stack.size()).clear();
        return items;
    }

    private int need(int n, String what) {
        if (n < 0 || in.remaining() < n) throw truncated("ends inside " + what);
        int at = in.position();
        in.position(at + n);
        return at;
    }

    private int u8() {
        return Byte.toUnsignedInt(in.get(need(1, "an opcode's argument")));
    }

    private int u16() {
        return Short.toUnsignedInt(in.getShort(need(2, "BININT2")));
    }

    private int i32(String what) {
        return in.getInt(need(4, what));
    }

    private long u32(String what) {
        return Integer.toUnsignedLong(in.getInt(need(4, what)));
    }

    private long u64(String what) {
        long v = in.getLong(need(8, what));
        if (v < 0) throw malformed(what + " length " + Long.toUnsignedString(v));
        return v;
    }

    private byte[] bytes(long n, String what) {
        if (n > in.remaining() || n < 0) throw truncated("ends inside " + what);
        byte[] b = new byte[(int) n];
        in.get(need((int) n, what), b);
        return b;
    }

    private String string(long n) {
        return new String(bytes(n, "a string"), StandardCharsets.UTF_8);
    }

    /** A GLOBAL argument: text up to a newline. */
    private String line(String what) {
        int start = in.position();
        while (in.hasRemaining()) {
            if (in.get() == '\n') {
                int end = in.position() - 1;
                byte[] b = new byte[end - start];
                in.get(start, b);
                return new String(b, StandardCharsets.UTF_8);
            }
        }
        throw truncated("ends inside " + what);
    }

    private long longOf(byte[] littleEndian) {
        if (littleEndian.length == 0) return 0;
        byte[] big = new byte[littleEndian.length];
        for (int i = 0; i < big.length; i++) big[i] = littleEndian[big.length - 1 - i];
        BigInteger v = new BigInteger(big);
        if (v.bitLength() > 63) throw malformed("integer " + v + " does not fit 64 bits");
        return v.longValue();
    }

    private IllegalArgumentException malformed(String what) {
        return new IllegalArgumentException(source + ": malformed state dict pickle at byte " + opcodeAt + ": " + what);
    }

    private IllegalArgumentException truncated(String what) {
        return new IllegalArgumentException(source + ": truncated pickle (" + in.limit() + " bytes): " + what);
    }

    private static String typeName(Object o) {
        return switch (o) {
            case null -> "None";
            case Global g -> "global " + g.qualifiedName();
            case StorageRef _ -> "storage";
            case PickledTensor _ -> "tensor";
            case String _ -> "string";
            case Long _ -> "int";
            case Double _ -> "float";
            case Boolean _ -> "bool";
            case Map<?, ?> _ -> "dict";
            case ArrayList<?> _ -> "list";
            case List<?> _ -> "tuple";
            default -> o.getClass().getSimpleName();
        };
    }

    /** Keeps messages to one line whatever a hostile pickle puts in its names. */
    static String printable(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().limit(200).forEach(c -> {
            if (c < 0x20 || c == 0x7f) b.append(String.format("\\x%02x", c));
            else b.appendCodePoint(c);
        });
        if (s.codePointCount(0, s.length()) > 200) b.append('…');
        return b.toString();
    }

    private static String opcodeName(int op) {
        String name = switch (op) {
            case 'i' -> "INST";
            case 'o' -> "OBJ";
            case 0x81 -> "NEWOBJ";
            case 0x92 -> "NEWOBJ_EX";
            case 0x82, 0x83, 0x84 -> "EXT";
            case 'P' -> "PERSID";
            case 'I' -> "INT";
            case 'L' -> "LONG";
            case 'F' -> "FLOAT";
            case 'S' -> "STRING";
            case 'T' -> "BINSTRING";
            case 'U' -> "SHORT_BINSTRING";
            case 'V' -> "UNICODE";
            case 'B' -> "BINBYTES";
            case 'C' -> "SHORT_BINBYTES";
            case 0x8e -> "BINBYTES8";
            case 'g' -> "GET";
            case 'p' -> "PUT";
            case 0x8f -> "EMPTY_SET";
            case 0x90 -> "ADDITEMS";
            case 0x91 -> "FROZENSET";
            case 0x96 -> "BYTEARRAY8";
            case 0x97 -> "NEXT_BUFFER";
            case 0x98 -> "READONLY_BUFFER";
            default -> "unknown";
        };
        String ch = op >= 0x21 && op < 0x7f ? " '" + (char) op + "'" : "";
        return String.format("0x%02x%s (%s)", op, ch, name);
    }
}
