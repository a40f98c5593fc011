package dkv.scorers.model;

import dkv.scorers.torch.Tensor;

/** Which cached and new positions each new token may attend to. */
public sealed interface AttentionMask {

    /** Every new token sees the whole past and the new tokens up to itself. */
    record Causal() implements AttentionMask {}

    /** An explicit bool mask [newTokens, past + newTokens], true = may attend (e.g. a bidirectional prefix). */
    record Custom(Tensor allowed) implements AttentionMask {}

    static AttentionMask causal() {
        return new Causal();
    }
}
