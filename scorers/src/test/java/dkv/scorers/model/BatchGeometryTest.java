package dkv.scorers.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertNull;

import dkv.scorers.fixtures.ReferenceFixture;
import dkv.scorers.torch.DType;
import dkv.scorers.torch.Device;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The shared batch geometry: per-row masks of every kind, padded together, give each row what it gets alone; the
 * materialised masks are checked cell by cell against an independent construction; encoder-memory masking equals
 * attention over only the visible tokens, computed in double precision.
 */
class BatchGeometryTest {

    static CausalLm model;

    @BeforeAll
    static void load() {
        model = ModelFamilies.loadCausal(ReferenceFixture.load("llama").dir(), Device.cpu(), DType.FLOAT32);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    static int[] ids(String text) {
        return model.tokenizer().encode(text);
    }

    static ForwardResult prefill(int[] ids, AttentionMask mask) {
        return model.forward(new ForwardRequest(ids, ForwardRequest.consecutive(0, ids.length), KvCache.empty(), mask, 0, 0, false));
    }

    /** Rows of every mask kind, with and without pasts of different lengths, batched vs each alone. */
    @Test
    void batchedRowsOfEveryMaskKindEqualTheRowsAlone() {
        try (TensorScope _ = TensorScope.open()) {
            int[] doc = ids("Water boils at 100 degrees Celsius at sea level.");
            int[] tail = java.util.Arrays.copyOfRange(ids("Question: when does water boil?"), 1, 8);
            KvCache bidirectionalPast = prefill(doc, AttentionMask.prefixLm(doc.length)).cache();
            KvCache causalPast = prefill(doc, AttentionMask.causal()).cache();
            List<ForwardRequest> rows = List.of(
                    new ForwardRequest(doc, ForwardRequest.consecutive(0, doc.length), KvCache.empty(), AttentionMask.prefixLm(6),
                            0, doc.length, true),
                    new ForwardRequest(tail, ForwardRequest.consecutive(doc.length, tail.length), bidirectionalPast,
                            AttentionMask.prefixLm(doc.length), 0, tail.length, true),
                    new ForwardRequest(tail, ForwardRequest.consecutive(5, tail.length), causalPast.view(0, 5), AttentionMask.causal(),
                            2, tail.length, true),
                    new ForwardRequest(java.util.Arrays.copyOf(doc, 9), ForwardRequest.consecutive(0, 9), KvCache.empty(),
                            AttentionMask.bidirectional(), 0, 9, false),
                    new ForwardRequest(tail, ForwardRequest.consecutive(doc.length, tail.length), causalPast,
                            AttentionMask.prefixLm(doc.length + 3), 0, tail.length, false));
            List<ForwardResult> batched = model.forwardBatch(rows);
            for (int b = 0; b < rows.size(); b++) {
                ForwardResult alone = model.forward(rows.get(b));
                ForwardResult together = batched.get(b);
                assertArrayEquals(Tensors.toFloatArray(alone.logits()), Tensors.toFloatArray(together.logits()), 1e-4f, "logits of row " + b);
                assertEquals(alone.cache().positions(), together.cache().positions(), "positions of row " + b);
                for (int l = 0; l < model.layers(); l++) {
                    assertArrayEquals(Tensors.toFloatArray(alone.cache().keys(l)), Tensors.toFloatArray(together.cache().keys(l)), 1e-5f,
                            "keys of row " + b + " layer " + l);
                    if (rows.get(b).attentionProbs()) {
                        assertArrayEquals(Tensors.toFloatArray(alone.attention().get(l)), Tensors.toFloatArray(together.attention().get(l)),
                                1e-5f, "attention of row " + b + " layer " + l);
                    }
                }
            }
        }
    }

    /** The mask tensor cell by cell, from a construction written here: padded column of each key, then the rules. */
    /** Continuations over views of one batched prefill: equal views are read once, and every row gets what it gets alone. */
    @Test
    void rowsReusingOnePrefillsEntriesShareOnePastAndEqualTheRowsAlone() {
        try (TensorScope _ = TensorScope.open()) {
            int[] first = ids("Water boils at 100 degrees Celsius at sea level.");
            int[] second = ids("The Nile is the longest river in Africa.");
            int[] tail = java.util.Arrays.copyOfRange(ids("Question: when does water boil?"), 1, 8);
            List<ForwardResult> prefills = model.forwardBatch(List.of(
                    new ForwardRequest(first, ForwardRequest.consecutive(0, first.length), KvCache.empty(), AttentionMask.causal(), 0, 0, false),
                    new ForwardRequest(second, ForwardRequest.consecutive(0, second.length), KvCache.empty(), AttentionMask.causal(), 0, 0, false)));
            KvCache a = prefills.get(0).cache();
            KvCache b = prefills.get(1).cache();
            List<ForwardRequest> rows = List.of(
                    new ForwardRequest(tail, ForwardRequest.consecutive(first.length, tail.length), a.view(0, first.length),
                            AttentionMask.causal(), 0, tail.length, false),
                    new ForwardRequest(java.util.Arrays.copyOf(tail, 4), ForwardRequest.consecutive(first.length, 4), a.view(0, first.length),
                            AttentionMask.causal(), 0, 4, false),
                    new ForwardRequest(tail, ForwardRequest.consecutive(second.length, tail.length), b, AttentionMask.causal(), 0, tail.length, false),
                    new ForwardRequest(tail, ForwardRequest.consecutive(5, tail.length), a.view(0, 5), AttentionMask.causal(), 0, tail.length, false));
            // two views of a's whole row are one past; a's first five entries are another
            assertEquals(3, new BatchGeometry(rows, Device.cpu(), Integer.MAX_VALUE, List.of(Window.NONE)).distinctPasts());
            List<ForwardResult> batched = model.forwardBatch(rows);
            for (int r = 0; r < rows.size(); r++) {
                ForwardResult alone = model.forward(rows.get(r));
                assertArrayEquals(Tensors.toFloatArray(alone.logits()), Tensors.toFloatArray(batched.get(r).logits()), 1e-4f, "logits of row " + r);
                for (int l = 0; l < model.layers(); l++) {
                    assertArrayEquals(Tensors.toFloatArray(alone.cache().keys(l)), Tensors.toFloatArray(batched.get(r).cache().keys(l)),
                            1e-5f, "keys of row " + r + " layer " + l);
                    assertArrayEquals(Tensors.toFloatArray(alone.cache().values(l)), Tensors.toFloatArray(batched.get(r).cache().values(l)),
                            1e-5f, "values of row " + r + " layer " + l);
                }
            }
        }
    }

    @Test
    void materialisedMasksCombineRowMaskWindowAndPadding() {
        try (TensorScope _ = TensorScope.open()) {
            KvCache past3 = prefill(ids("a b"), AttentionMask.causal()).cache();
            assertEquals(3, past3.length());
            List<ForwardRequest> rows = List.of(
                    new ForwardRequest(new int[] {5, 6, 7, 8}, ForwardRequest.consecutive(0, 4), KvCache.empty(), AttentionMask.prefixLm(2), 0, 0, false),
                    new ForwardRequest(new int[] {5, 6}, ForwardRequest.consecutive(3, 2), past3, AttentionMask.causal(), 0, 0, false),
                    new ForwardRequest(new int[] {5, 6, 7}, ForwardRequest.consecutive(0, 3), KvCache.empty(), AttentionMask.bidirectional(), 0, 0, false));
            Window window = new Window(2, 1);
            BatchGeometry g = new BatchGeometry(rows, Device.cpu(), 420, List.of(Window.NONE, window));
            assertEquals(4, g.width());
            assertEquals(3, g.pastWidth());
            for (Window w : List.of(Window.NONE, window)) {
                boolean[] got = toBooleans(g.selfMask(w));
                int cols = 3 + 4;
                for (int b = 0; b < rows.size(); b++) {
                    ForwardRequest r = rows.get(b);
                    int past = r.past().length();
                    for (int i = 0; i < r.ids().length; i++) {
                        for (int c = 0; c < cols; c++) {
                            // column c holds key index k: pasts end at column 3, new tokens start there
                            int k = c < 3 ? c - (3 - past) : past + (c - 3);
                            boolean real = c < 3 ? k >= 0 : k - past < r.ids().length;
                            int q = past + i;
                            boolean rule = switch (b) {
                                case 0 -> k <= q || (q < 2 && k < 2);
                                case 1 -> k <= q;
                                default -> true;
                            };
                            boolean inWindow = w == Window.NONE || (q - k <= 2 && k - q <= 1);
                            assertEquals(real && rule && inWindow, got[((b * 4) + i) * cols + c],
                                    "window " + w + " row " + b + " query " + i + " column " + c);
                        }
                    }
                }
            }
        }
    }

    /**
     * Causal rows over pasts of different lengths: the mask built on the device (no window that bites) and the one
     * built cell by cell (a window that bites) both give the rule, padding queries seeing only their own column.
     */
    @Test
    void causalContinuationMasksGiveTheRuleOnBothConstructions() {
        try (TensorScope _ = TensorScope.open()) {
            KvCache past3 = prefill(ids("a b"), AttentionMask.causal()).cache();
            List<ForwardRequest> rows = List.of(
                    new ForwardRequest(new int[] {5, 6}, ForwardRequest.consecutive(3, 2), past3, AttentionMask.causal(), 0, 0, false),
                    new ForwardRequest(new int[] {5, 6, 7, 8}, ForwardRequest.consecutive(1, 4), past3.view(0, 1), AttentionMask.causal(), 0, 0, false),
                    new ForwardRequest(new int[] {9}, ForwardRequest.consecutive(0, 1), KvCache.empty(), AttentionMask.causal(), 0, 0, false));
            Window bites = new Window(2, 0);
            BatchGeometry g = new BatchGeometry(rows, Device.cpu(), 420, List.of(Window.NONE, bites));
            int cols = 3 + 4;
            for (Window w : List.of(Window.NONE, bites)) {
                boolean[] got = toBooleans(g.selfMask(w));
                for (int b = 0; b < rows.size(); b++) {
                    int past = rows.get(b).past().length();
                    int n = rows.get(b).ids().length;
                    for (int i = 0; i < 4; i++) {
                        for (int c = 0; c < cols; c++) {
                            int k = c < 3 ? c - (3 - past) : past + (c - 3);
                            int q = past + i;
                            boolean expected = i < n
                                    ? (c < 3 ? k >= 0 : k - past < n) && k <= q && (w == Window.NONE || q - k <= 2)
                                    : c == 3 + i;
                            assertEquals(expected, got[((b * 4) + i) * cols + c], "window " + w + " row " + b + " query " + i + " column " + c);
                        }
                    }
                }
            }
        }
    }

    /**
     * An encoder's bidirectional rows under asymmetric windows that bite (T5Gemma 2's sliding layers), made on the
     * device, and under no window (one row of keys per sequence): both give the rule, padding queries seeing only
     * their own column.
     */
    @Test
    void encoderWindowMasksGiveTheRule() {
        try (TensorScope _ = TensorScope.open()) {
            List<ForwardRequest> rows = List.of(
                    new ForwardRequest(new int[] {5, 6, 7, 8, 9, 10}, ForwardRequest.consecutive(0, 6), KvCache.empty(), AttentionMask.bidirectional(), 0, 0, false),
                    new ForwardRequest(new int[] {5, 6, 7}, ForwardRequest.consecutive(0, 3), KvCache.empty(), AttentionMask.bidirectional(), 0, 0, false),
                    new ForwardRequest(new int[] {9}, ForwardRequest.consecutive(0, 1), KvCache.empty(), AttentionMask.bidirectional(), 0, 0, false));
            Window even = Window.bidirectional(4);  // [q − 1, q + 2]
            Window odd = Window.bidirectional(3);   // [q − 1, q + 1]
            BatchGeometry g = new BatchGeometry(rows, Device.cpu(), 420, List.of(Window.NONE, even, odd));
            for (Window w : List.of(Window.NONE, even, odd)) {
                Tensor mask = g.selfMask(w);
                boolean[] got = toBooleans(Ops.contiguous(Ops.expand(mask, 3, 1, 6, 6)));
                for (int b = 0; b < rows.size(); b++) {
                    int n = rows.get(b).ids().length;
                    for (int q = 0; q < 6; q++) {
                        for (int k = 0; k < 6; k++) {
                            boolean expected = q < n ? k < n && w.allows(q, k) : k == q;
                            if (w == Window.NONE && q >= n) continue;  // the keys-only mask leaves padding queries to the padded keys
                            assertEquals(expected, got[((b * 6) + q) * 6 + k], "window " + w + " row " + b + " query " + q + " key " + k);
                        }
                    }
                }
            }
        }
    }

    @Test
    void causalRowsWithoutAPastNeedNoMaskTensorUnlessAWindowBites() {
        try (TensorScope _ = TensorScope.open()) {
            List<ForwardRequest> rows = List.of(
                    new ForwardRequest(new int[] {5, 6, 7, 8, 9}, ForwardRequest.consecutive(0, 5), KvCache.empty(), AttentionMask.causal(), 0, 0, false),
                    new ForwardRequest(new int[] {5, 6}, ForwardRequest.consecutive(0, 2), KvCache.empty(), AttentionMask.causal(), 0, 0, false));
            BatchGeometry g = new BatchGeometry(rows, Device.cpu(), 420, List.of(Window.NONE, Window.causal(8), Window.causal(3)));
            assertNull(g.selfMask(Window.NONE));
            assertNull(g.selfMask(Window.causal(8)), "a window longer than the rows removes nothing");
            assertEquals(List.of(2L, 1L, 5L, 5L), List.of(g.selfMask(Window.causal(3)).shape()[0], g.selfMask(Window.causal(3)).shape()[1],
                    g.selfMask(Window.causal(3)).shape()[2], g.selfMask(Window.causal(3)).shape()[3]));
        }
    }

    /**
     * Cross attention over a padded batch of encoder memories (two rows share one memory with different visibility, a
     * third has a shorter one) equals, per row, softmax attention over only its visible tokens in double precision.
     */
    @Test
    void encoderMemoryMaskingEqualsAttentionOverTheVisibleTokens() {
        Random random = new Random(11);
        int heads = 2;
        int dim = 4;
        try (TensorScope _ = TensorScope.open()) {
            EncoderMemory longMemory = memory(random, heads, 6, dim);
            EncoderMemory shortMemory = memory(random, heads, 3, dim);
            boolean[] all = {true, true, true, true, true, true};
            boolean[] hidden = {true, false, false, true, true, true};
            List<ForwardRequest> rows = List.of(
                    decoderRow(new ForwardRequest.Cross(longMemory, all)),
                    decoderRow(new ForwardRequest.Cross(longMemory, hidden)),
                    decoderRow(new ForwardRequest.Cross(shortMemory, new boolean[] {false, true, true})));
            BatchGeometry g = new BatchGeometry(rows, Device.cpu(), 420, List.of(Window.NONE));
            assertEquals(6, g.memoryWidth());
            float[] q = values(random, rows.size() * heads * 2 * dim);
            Tensor query = Tensors.fromFloats(q, rows.size(), heads, 2, dim);
            // the merged key axis [self ; memory]: each row's two self entries first, as given, then its memory
            float[] selfKeys = values(random, rows.size() * heads * 2 * dim);
            float[] selfValues = values(random, rows.size() * heads * 2 * dim);
            Tensor mergedKeys = g.withMemory(0, true, Tensors.fromFloats(selfKeys, rows.size(), heads, 2, dim));
            Tensor mergedValues = g.withMemory(0, false, Tensors.fromFloats(selfValues, rows.size(), heads, 2, dim));
            assertArrayEquals(new long[] {3, heads, 8, dim}, mergedKeys.shape());
            assertArrayEquals(selfKeys, Tensors.toFloatArray(Ops.contiguous(Ops.narrow(mergedKeys, 2, 0, 2))));
            assertArrayEquals(selfValues, Tensors.toFloatArray(Ops.contiguous(Ops.narrow(mergedValues, 2, 0, 2))));
            Tensor out = Ops.sdpa(query, Ops.narrow(mergedKeys, 2, 2, 6), Ops.narrow(mergedValues, 2, 2, 6), g.crossMask(), false,
                    1.0 / Math.sqrt(dim));
            float[] got = Tensors.toFloatArray(out);
            for (int b = 0; b < rows.size(); b++) {
                ForwardRequest.Cross cross = rows.get(b).cross();
                float[] k = Tensors.toFloatArray(cross.memory().keys(0));
                float[] v = Tensors.toFloatArray(cross.memory().values(0));
                int len = cross.memory().length();
                for (int h = 0; h < heads; h++) {
                    for (int i = 0; i < 2; i++) {
                        double[] weights = new double[len];
                        double max = Double.NEGATIVE_INFINITY;
                        for (int s = 0; s < len; s++) {
                            if (!cross.visible()[s]) continue;
                            double dot = 0;
                            for (int d = 0; d < dim; d++) dot += (double) q[((b * heads + h) * 2 + i) * dim + d] * k[(h * len + s) * dim + d];
                            weights[s] = dot / Math.sqrt(dim);
                            max = Math.max(max, weights[s]);
                        }
                        double sum = 0;
                        for (int s = 0; s < len; s++) sum += cross.visible()[s] ? Math.exp(weights[s] - max) : 0;
                        for (int d = 0; d < dim; d++) {
                            double expected = 0;
                            for (int s = 0; s < len; s++) {
                                if (cross.visible()[s]) expected += Math.exp(weights[s] - max) / sum * v[(h * len + s) * dim + d];
                            }
                            assertEquals(expected, got[((b * heads + h) * 2 + i) * dim + d], 1e-5, "row " + b + " head " + h + " query " + i);
                        }
                    }
                }
            }
        }
    }

    /**
     * Rows that are a {@link KvCacheBuffer}'s rows take the in-place path: the forward writes its new keys into the
     * buffer's next column (the past is neither gathered nor concatenated) and its logits equal those of the same
     * rows over plain, separately held pasts (the gather-and-concatenate path).
     */
    @Test
    void aBuffersRowsDecodeInPlaceAndEqualPlainPasts() {
        try (TensorScope _ = TensorScope.open()) {
            int[][] prompts = {ids("Water boils at 100 degrees Celsius at sea level."), ids("who wrote"),
                    ids("A soft boiled egg takes about six minutes in boiling water.")};
            List<ForwardRequest> prefill = new ArrayList<>();
            for (int[] p : prompts) {
                prefill.add(new ForwardRequest(p, ForwardRequest.consecutive(0, p.length), KvCache.empty(), AttentionMask.causal(), 0, 0, false));
            }
            List<ForwardResult> first = model.forwardBatch(prefill);
            int longest = java.util.Arrays.stream(prompts).mapToInt(p -> p.length).max().orElseThrow();
            try (KvCacheBuffer buffer = KvCacheBuffer.allocateLike(first.getFirst().cache(), prompts.length, longest + 4)) {
                buffer.appendRows(first.stream().map(ForwardResult::cache).toList());  // one gather per layer
                assertEquals(longest, buffer.end());
                for (int b = 0; b < prompts.length; b++) {
                    assertArrayEquals(Tensors.toFloatArray(first.get(b).cache().values(1)), Tensors.toFloatArray(buffer.row(b).values(1)),
                            "row " + b + " right-aligned in the buffer");
                    int pad = longest - prompts[b].length;
                    if (pad == 0) continue;
                    float[] padding = Tensors.toFloatArray(Ops.narrow(Ops.narrow(buffer.storage(1, false), 0, b, 1), 2, 0, pad));
                    for (float v : padding) assertEquals(0f, v, "row " + b + "'s padding columns");
                }
                long storage = buffer.storage(0, true).dataPointer().address();
                int[] next = {7, 11, 13};
                List<ForwardRequest> inPlace = new ArrayList<>();
                List<ForwardRequest> plain = new ArrayList<>();
                for (int b = 0; b < prompts.length; b++) {
                    long[] position = {prompts[b].length};
                    inPlace.add(new ForwardRequest(new int[] {next[b]}, position, buffer.row(b), AttentionMask.causal(), 0, 1, false));
                    plain.add(new ForwardRequest(new int[] {next[b]}, position, first.get(b).cache(), AttentionMask.causal(), 0, 1, false));
                }
                long live = Tensor.liveHandles();
                List<ForwardResult> viaBuffer = model.forwardBatch(inPlace);
                // what outlives the step is one logits view per row: the caches are lazy views of the buffer, not
                // rows × layers × 2 tensor handles (the host cost of a decode step)
                assertEquals(prompts.length, Tensor.liveHandles() - live, "tensors left by an in-place decode step");
                List<ForwardResult> viaConcat = model.forwardBatch(plain);
                for (int b = 0; b < prompts.length; b++) {
                    Tensor newKey = viaBuffer.get(b).cache().view(prompts[b].length, prompts[b].length + 1).keys(0);
                    long expected = storage + ((long) b * buffer.storage(0, true).strides()[0] + (long) longest * newKey.size(3)) * 4;
                    assertEquals(expected, newKey.dataPointer().address(), "row " + b + "'s new key written into the buffer's next column");
                    float[] got = Tensors.toFloatArray(viaBuffer.get(b).logits());
                    float[] want = Tensors.toFloatArray(viaConcat.get(b).logits());
                    for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-4, "row " + b + " logit " + i);
                }
                buffer.appendRows(viaBuffer.stream().map(r -> r.cache().view(r.cache().length() - 1, r.cache().length())).toList());
                assertEquals(longest + 1, buffer.end());
                assertEquals(storage, buffer.storage(0, true).dataPointer().address(), "appending moved nothing");
                for (int b = 0; b < prompts.length; b++) {
                    assertArrayEquals(Tensors.toFloatArray(viaConcat.get(b).cache().keys(1)), Tensors.toFloatArray(buffer.row(b).keys(1)), 1e-5f);
                }
            }
        }
    }

    /**
     * A batched forward's row caches are lazy views of its outputs: reading every layer of every row and then closing
     * the results frees every handle the forward left (the outputs go with the last cache), inside a scope that stays
     * open — so a job that closes its caches frees their memory mid-call, as the scorer relies on.
     */
    @Test
    void closingAForwardsLazyCachesFreesItsOutputsWhileTheScopeStaysOpen() {
        try (TensorScope _ = TensorScope.open()) {
            List<ForwardRequest> rows = new ArrayList<>();
            for (int[] p : new int[][] {ids("Water boils at 100 degrees."), ids("who wrote"), ids("A soft boiled egg.")}) {
                rows.add(new ForwardRequest(p, ForwardRequest.consecutive(0, p.length), KvCache.empty(), AttentionMask.causal(), 0, 0, false));
            }
            long before = Tensor.liveHandles();
            List<ForwardResult> results = model.forwardBatch(rows);
            for (ForwardResult r : results.subList(0, results.size() - 1)) {  // the last row's cache stays unread
                for (int l = 0; l < r.cache().layers(); l++) {
                    assertEquals(r.cache().length(), r.cache().keys(l).size(2));
                    assertEquals(r.cache().length(), r.cache().values(l).size(2));
                }
            }
            results.forEach(ForwardResult::close);
            assertEquals(before, Tensor.liveHandles(), "handles left once every lazy cache of the forward is closed");
            var e = assertThrows(IllegalStateException.class, () -> results.getLast().cache().keys(0));
            assertTrue(e.getMessage().startsWith("a closed KV cache read"), e.getMessage());
        }
    }

    static ForwardRequest decoderRow(ForwardRequest.Cross cross) {
        return new ForwardRequest(new int[] {2, 9}, Positions.consecutive(0, 2), KvCache.empty(), AttentionMask.causal(), 0, 0, false, cross);
    }

    static EncoderMemory memory(Random random, int heads, int length, int dim) {
        List<Tensor> k = new ArrayList<>();
        List<Tensor> v = new ArrayList<>();
        k.add(Tensors.fromFloats(values(random, heads * length * dim), 1, heads, length, dim));
        v.add(Tensors.fromFloats(values(random, heads * length * dim), 1, heads, length, dim));
        return new EncoderMemory(k, v);
    }

    static float[] values(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    static boolean[] toBooleans(Tensor mask) {
        float[] f = Tensors.toFloatArray(Ops.to(mask, DType.FLOAT32));
        boolean[] out = new boolean[f.length];
        for (int i = 0; i < f.length; i++) out[i] = f[i] != 0;
        return out;
    }
}
