package dkv.scorers.score;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Small per-condition results (answer log-probabilities, cache differences) computed on the device and brought to Java
 * together: one float32 log-softmax over every registered answer row, one host→device copy of the answer ids
 * and one device→host copy in all. Reading each condition on its own would stall the device once per read
 * (torch's blocking host↔device copies synchronise the stream), several times per condition.
 *
 * <p>Registered tensors are aliased, so the caller may close its own handles at once (register from a scope
 * that outlives {@link #fetch}). Not thread-safe.
 */
final class HostReadback {

    /** Values that arrive with {@link #fetch}. */
    static final class Slot {
        private double[] values;

        double[] values() {
            if (values == null) throw new IllegalStateException("read before HostReadback.fetch()");
            return values;
        }
    }

    private final List<Tensor> logits = new ArrayList<>();
    private final List<int[]> answerIds = new ArrayList<>();
    private final List<Slot> answerSlots = new ArrayList<>();
    private final List<Difference> differences = new ArrayList<>();

    /** Two tensors of one shape whose largest absolute difference a slot awaits. */
    private record Difference(Tensor a, Tensor b, Slot slot) {}

    /**
     * Log-probabilities of {@code answerIds} under next-token logits [A, vocab] (row i predicts answer token i),
     * log-softmax in float32.
     */
    Slot answerLogprobs(Tensor rowLogits, int[] answerIds) {
        if (rowLogits.size(0) != answerIds.length) {
            throw new IllegalArgumentException(rowLogits.size(0) + " logit rows for " + answerIds.length + " answer tokens");
        }
        Slot slot = new Slot();
        logits.add(unscoped(rowLogits));
        this.answerIds.add(answerIds.clone());
        answerSlots.add(slot);
        return slot;
    }

    /**
     * {@code max |a − b|} over all elements, in float32 (a and b of one shape, any dtype). Computed at {@link #fetch}
     * together with every other registered difference of the same layout: their tensors concatenated along the
     * second-to-last axis (a cache's token axis), one subtraction and one absolute value for all, and per position the
     * maximum over the other axes read back; each slot's maximum is then taken on the host. A few kernels per call
     * instead of five per comparison, most of which were too small to cover the host's issue time.
     */
    Slot maxAbsDiff(Tensor a, Tensor b) {
        if (!java.util.Arrays.equals(a.shape(), b.shape())) {
            throw new IllegalArgumentException("max |a - b| of different shapes: " + a + " and " + b);
        }
        Slot slot = new Slot();
        if (a.numel() == 0) {
            slot.values = new double[] {0};
            return slot;
        }
        differences.add(new Difference(unscoped(a), unscoped(b), slot));
        return slot;
    }

    /**
     * An alias of {@code t} for this readback, closed by {@link #fetch}. It is registered in the caller's current
     * {@link TensorScope} too (closing twice is harmless), so register from a scope that outlives the fetch.
     */
    private static Tensor unscoped(Tensor t) {
        return Ops.alias(t);
    }

    /** Computes and reads every registered value; the slots are filled, the registrations cleared. */
    void fetch() {
        try (TensorScope _ = TensorScope.open()) {
            List<Tensor> parts = new ArrayList<>();
            int answerValues = 0;
            if (!logits.isEmpty()) {
                Tensor all = logits.size() == 1 ? logits.getFirst() : Ops.cat(0, logits);
                long[] index = new long[(int) all.size(0)];
                for (int[] ids : answerIds) {
                    for (int id : ids) index[answerValues++] = id;
                }
                Tensor lp = Ops.logSoftmax(Ops.to(all, DType.FLOAT32), -1);
                Tensor ids = Ops.to(Tensors.fromLongs(index, index.length, 1), all.device());
                parts.add(Ops.reshape(Ops.gather(lp, 1, ids), -1));
            }
            Map<List<Object>, List<Difference>> byLayout = new LinkedHashMap<>();
            for (Difference d : differences) byLayout.computeIfAbsent(layout(d.a()), k -> new ArrayList<>()).add(d);
            for (List<Difference> group : byLayout.values()) parts.add(positionMaxima(group));
            if (parts.isEmpty()) return;
            double[] values = Tensors.toDoubleArray(parts.size() == 1 ? parts.getFirst() : Ops.cat(0, parts));
            int at = 0;
            for (int i = 0; i < answerSlots.size(); i++) {
                int n = answerIds.get(i).length;
                answerSlots.get(i).values = java.util.Arrays.copyOfRange(values, at, at + n);
                at += n;
            }
            for (List<Difference> group : byLayout.values()) {
                for (Difference d : group) {
                    int positions = (int) d.a().size(axis(d.a()));
                    double max = Double.NEGATIVE_INFINITY;
                    for (int i = at; i < at + positions; i++) max = Math.max(max, values[i]);
                    d.slot().values = new double[] {max};
                    at += positions;
                }
            }
        } finally {
            logits.forEach(Tensor::close);
            differences.forEach(d -> {
                d.a().close();
                d.b().close();
            });
            logits.clear();
            answerIds.clear();
            answerSlots.clear();
            differences.clear();
        }
    }

    /** The axis differences are concatenated along: the second-to-last (a vector's only one). */
    private static int axis(Tensor t) {
        return Math.max(0, t.shape().length - 2);
    }

    /** What tensors must share to be concatenated along {@link #axis}: rank, the other axes' sizes, dtype, device. */
    private static List<Object> layout(Tensor t) {
        long[] shape = t.shape().clone();
        shape[axis(t)] = -1;
        return List.of(java.util.Arrays.toString(shape), t.dtype(), t.device());
    }

    /** For a group of one layout, max |a − b| in float32 at each position of the concatenated axis: [Σ positions]. */
    private static Tensor positionMaxima(List<Difference> group) {
        Tensor first = group.getFirst().a();
        int axis = axis(first);
        Tensor a = group.size() == 1 ? first : Ops.cat(axis, group.stream().map(Difference::a).toList());
        Tensor b = group.size() == 1 ? group.getFirst().b() : Ops.cat(axis, group.stream().map(Difference::b).toList());
        Tensor m = Ops.abs(Ops.sub(Ops.to(a, DType.FLOAT32), Ops.to(b, DType.FLOAT32)));
        // the other axes, last first, so that each index still names the same axis when it is reduced
        for (int dim = first.shape().length - 1; dim >= 0; dim--) {
            if (dim != axis) m = Ops.max(m, dim, false);
        }
        return m;
    }
}
