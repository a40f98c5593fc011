package dkv.scorers.model;

import dkv.scorers.torch.Tensor;
import java.util.List;

/**
 * What a forward step produced.
 *
 * @param cache           past + new entries (views of the batch's storage), owned by the caller
 * @param logits          float32 [rows, vocab] next-token logits of the requested rows, or null
 * @param attention       per layer, head-averaged attention probabilities [newTokens, past + newTokens] (float32),
 *                        or an empty list when not requested
 * @param crossAttention  encoder-decoder: per layer the same over the encoder memory [newTokens, memory] (with a
 *                        merged softmax the two add up to 1 per row); empty otherwise
 */
public record ForwardResult(KvCache cache, Tensor logits, List<Tensor> attention, List<Tensor> crossAttention)
        implements AutoCloseable {

    public ForwardResult(KvCache cache, Tensor logits, List<Tensor> attention) {
        this(cache, logits, attention, List.of());
    }

    @Override
    public void close() {
        cache.close();
        if (logits != null) logits.close();
        attention.forEach(Tensor::close);
        crossAttention.forEach(Tensor::close);
    }
}
