package dkv.scorers.score;

import dkv.scorers.torch.Tensor;
import dkv.scorers.torch.TensorScope;

/** Log-probabilities of the answer tokens and the NLL summaries derived from them. */
public record AnswerLogprobs(double[] logprobs) {

    /**
     * From next-token logits [A, vocab] (row i predicts answer token i): float32 log-softmax on the logits'
     * device, then only the A chosen values travel to Java. (Many conditions at once: {@link HostReadback}.)
     */
    public static AnswerLogprobs of(Tensor logits, int[] answerIds) {
        try (TensorScope _ = TensorScope.open()) {
            HostReadback readback = new HostReadback();
            HostReadback.Slot slot = readback.answerLogprobs(logits, answerIds);
            readback.fetch();
            return new AnswerLogprobs(slot.values());
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
