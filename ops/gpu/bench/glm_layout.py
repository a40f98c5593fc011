"""The prefix-LM layout of a benchmark pair for the GLM family (DESIGN.md "Prefix-LM layout"), as
glm_torch_bench.py and make_workload.py --family glm lay pairs out: TEXT = PREFIX . DOC . SUFFIX closed by
[gMASK] <sop> (the prompt), then QUERY . ANSWER as a new SentencePiece text (the continuation); segment
lengths by growth inside each part. The tokenization and segmentation are glm_reference.py's (sentencepiece
on ice_text.model); the plan and samples are read by bench_layout.py.
"""
import os
import re
import sys
from dataclasses import dataclass

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "reference"))
import glm_reference as ref  # noqa: E402

from bench_layout import InputError  # noqa: E402

TRUNCATED = "PREFIX_TRUNCATED"


@dataclass(frozen=True)
class GlmLayout:
    sample_id: str
    condition: str
    placement: str
    rope_correction: str
    prompt_ids: tuple  # TEXT . [gMASK] . <sop>
    cont_ids: tuple  # QUERY . ANSWER
    prefix: int
    doc: int
    suffix: int
    query: int
    answer: int

    @property
    def n_text(self):
        return len(self.prompt_ids) - 2

    @property
    def tokens(self):
        """Every token of the pair's own sequence (what one forward per pair would process; the FLOP floor's count)."""
        return len(self.prompt_ids) + len(self.cont_ids)

    @property
    def drop(self):
        """Cache entries a truncated condition drops (the PREFIX)."""
        return self.prefix if self.placement == TRUNCATED else 0

    @property
    def shift(self):
        """How far the kept keys' position channel is rotated back (HALF_SPLIT), 0 without a correction."""
        return self.drop if self.rope_correction == "HALF_SPLIT" else 0

    @property
    def past(self):
        """Cache entries the continuation attends to."""
        return len(self.prompt_ids) - self.drop


def tokenizer(model_dir):
    return ref.GlmTokenizer(model_dir)


def layout(tok, c, sample):
    """Lays out one bench_layout.Condition for one sample with a glm_reference.GlmTokenizer."""
    if c.placement == TRUNCATED and c.rope_correction not in ("HALF_SPLIT", "NONE"):
        raise InputError(f"condition {c.name}: rope_correction {c.rope_correction} is not defined for the GLM family")
    surrogate = re.sub(r"\{(query|passage)}", lambda m: sample[m.group(1)], c.surrogate)  # one pass, like dkv
    spec = {"surrogate": surrogate, "separator": c.separator, "placement": c.placement,
            "document_template": c.document_template, "query_template": c.query_template,
            "query_free_template": c.query_free_template, "query_free": c.query_free,
            "answer_template": c.answer_template}
    prompt, cont, seg = ref.layout(tok, spec, sample)
    if seg["answer"] == 0:
        raise InputError(f"sample {sample['id']}, condition {c.name}: the answer has no tokens")
    return GlmLayout(sample_id=sample["id"], condition=c.name, placement=c.placement, rope_correction=c.rope_correction,
                     prompt_ids=tuple(prompt), cont_ids=tuple(cont), prefix=seg["prefix"], doc=seg["document"],
                     suffix=seg["suffix"], query=seg["query"], answer=seg["answer"])
