package dkv.scorers.model;

import java.util.List;

/**
 * The autoregressive half every language model has: new tokens at explicit positions after a cache (and, for an
 * encoder-decoder, against an encoder memory), with next-token logits of the rows asked for.
 */
public interface Decoder {

    /** Runs new tokens through every layer, attending to {@code request.past()} and to each other. */
    default ForwardResult forward(ForwardRequest request) {
        return forwardBatch(List.of(request)).getFirst();
    }

    /**
     * Several independent sequences in one pass, padded by {@link BatchGeometry}; result i belongs to request i
     * and equals {@code forward(requests.get(i))} up to float rounding, whatever masks the rows declare.
     */
    List<ForwardResult> forwardBatch(List<ForwardRequest> requests);

    /** Which cached heads conditions may share: causal prefixes of any length, or only identical bidirectional ones. */
    default PrefixSharing prefixSharing() {
        return PrefixSharing.LONGEST_COMMON_PREFIX;
    }
}
