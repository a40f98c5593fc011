package dkv.scorers.score;

import dkv.scorers.torch.DType;
import dkv.scorers.torch.Ops;
import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;
import dkv.scorers.torch.Tensors;

/** Log-probabilities of the answer tokens and the NLL summaries derived from them. */
public record AnswerLogprobs(double[] logprobs) {

    /**
     * From next-token logits [A, vocab] (row i predicts answer token i): float32 log-softmax on the logits'
     * device, then only the A chosen values travel to Java.
     */
    public static AnswerLogprobs of(Tensor logits, int[] answerIds) {
        if (logits.size(0) != answerIds.length) {
            throw new IllegalArgumentException(logits.size(0) + " logit rows for " + answerIds.length + " answer tokens");
        }
        long[] index = new long[answerIds.length];
        for (int i = 0; i < index.length; i++) index[i] = answerIds[i];
        try (TensorScope _ = TensorScope.open()) {
            Tensor lp = Ops.logSoftmax(Ops.to(logits, DType.FLOAT32), -1);
            Tensor picked = Ops.gather(lp, 1, Ops.to(Tensors.fromLongs(index, index.length, 1), logits.device()));
            return new AnswerLogprobs(Tensors.toDoubleArray(picked));
        }
    }

    public int tokens() {
        return logprobs.length;
    }

    /** −Σ log p. */
    public double nllSum() {
        double s = 0;
        for (double lp : logprobs) s -= lp;
        return s;
    }

    /** −mean log p over the answer tokens. */
    public double nllMean() {
        return nllSum() / logprobs.length;
    }
}
