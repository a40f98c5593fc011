package dkv.scorers.score;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;
import java.util.ArrayList;
import java.util.List;

/**
 * Small per-condition results (answer log-probabilities, scalars) computed on the device and brought to Java
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
    private final List<Tensor> scalars = new ArrayList<>();
    private final List<Slot> scalarSlots = new ArrayList<>();

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

    /** The value of a one-element tensor. */
    Slot scalar(Tensor oneElement) {
        if (oneElement.numel() != 1) throw new IllegalArgumentException("not a scalar: " + oneElement);
        Slot slot = new Slot();
        scalars.add(unscoped(oneElement));
        scalarSlots.add(slot);
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
            for (Tensor s : scalars) parts.add(Ops.reshape(Ops.to(s, DType.FLOAT32), 1));
            if (parts.isEmpty()) return;
            double[] values = Tensors.toDoubleArray(parts.size() == 1 ? parts.getFirst() : Ops.cat(0, parts));
            int at = 0;
            for (int i = 0; i < answerSlots.size(); i++) {
                int n = answerIds.get(i).length;
                answerSlots.get(i).values = java.util.Arrays.copyOfRange(values, at, at + n);
                at += n;
            }
            for (Slot s : scalarSlots) s.values = new double[] {values[at++]};
        } finally {
            logits.forEach(Tensor::close);
            scalars.forEach(Tensor::close);
            logits.clear();
            answerIds.clear();
            answerSlots.clear();
            scalars.clear();
            scalarSlots.clear();
        }
    }
}
