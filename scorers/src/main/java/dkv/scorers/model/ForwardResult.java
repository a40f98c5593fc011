package dkv.scorers.model;

import dkv.scorers.torch.Tensor;
import java.util.List;

/**
 * What a forward step produced.
 *
 * @param cache      past + new entries (the past part copied), owned by the caller
 * @param logits     float32 [rows, vocab] next-token logits of the requested rows, or null
 * @param attention  per layer, head-averaged attention probabilities [newTokens, past + newTokens] (float32),
 *                   or an empty list when not requested
 */
public record ForwardResult(KvCache cache, Tensor logits, List<Tensor> attention) implements AutoCloseable {
    @Override
    public void close() {
        cache.close();
        if (logits != null) logits.close();
        attention.forEach(Tensor::close);
    }
}
