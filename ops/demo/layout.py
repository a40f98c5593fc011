"""dkv's sequence layout (docs/architecture.md "Layouts and recipes"), as the demo scripts use it.

A condition is BOS · PREFIX · DOC · SUFFIX · QUERY · ANSWER; BOS comes from the tokenizer's
post-processor. Segment lengths come from tokenizing cumulative prefixes of the whole text, never a
segment alone (the research's BPE-boundary bug).
"""

QUERY_TEMPLATE = "\n\nQuestion: {query}\nAnswer:"
ANSWER_TEMPLATE = " {answer}"
SEPARATOR = "\n"


def segments(sample, placement, surrogate=None):
    """(prefix, doc, suffix, query, answer) texts of one condition."""
    prefix = surrogate + SEPARATOR if placement.startswith("PREFIX") else ""
    suffix = SEPARATOR + surrogate if placement == "SUFFIX" else ""
    return (prefix, sample["passage"], suffix, QUERY_TEMPLATE.format(query=sample["query"]),
            ANSWER_TEMPLATE.format(answer=sample["answer"]))


def segment_lengths(tok, segs):
    """Token ids of the whole text (a `tokenizers.Tokenizer`, special tokens on) and the lengths
    [BOS, PREFIX, DOC, SUFFIX, QUERY, ANSWER]: len(tok(seg_1..seg_k)) - len(tok(seg_1..seg_k-1))."""
    lengths, previous = [], 0
    for k in range(len(segs) + 1):
        n = len(tok.encode("".join(segs[:k])).ids)
        lengths.append(n - previous)
        previous = n
    ids = tok.encode("".join(segs)).ids
    assert sum(lengths) == len(ids), "cumulative tokenization does not add up to the whole text"
    return ids, lengths
