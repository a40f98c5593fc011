"""dkv's plan format, generic sample JSONL and sequence layout (docs/architecture.md "Layouts and recipes"), as
the HF benchmark reads them.

A condition is BOS · PREFIX · DOC · SUFFIX · QUERY · ANSWER. PREFIX = surrogate + separator (PREFIX_FULL,
PREFIX_TRUNCATED), SUFFIX = separator + surrogate (SUFFIX). The whole text is tokenized once with special
tokens; segment k's length is len(tok(seg_1..seg_k)) - len(tok(seg_1..seg_k-1)), never a segment alone.

Only what the benchmark plan uses is accepted (surrogate text with {query} / {passage} placeholders or literal
words, as dkv's "oracle" and "static" kinds); anything else is a one-line error naming file and JSON path, as
dkv's own plan reader does.
"""
import json
import re
from dataclasses import dataclass

PLACEMENTS = ("NONE", "PREFIX_FULL", "PREFIX_TRUNCATED", "SUFFIX")
ROPE_CORRECTIONS = ("NONE", "HALF_SPLIT", "INTERLEAVED")
DEFAULTS = {"document_template": "{passage}", "separator": "\n", "query_template": "\n\nQuestion: {query}\nAnswer:",
            "query_free_template": "\n\nAnswer:", "answer_template": " {answer}", "rope_correction": "HALF_SPLIT",
            "keep_bos": True}
PLAN_KEYS = set(DEFAULTS) | {"experiment_id", "description", "model", "seed", "samples", "baseline", "oracle",
                             "contrasts", "correlations", "conditions", "capture_attention"}
CONDITION_KEYS = set(DEFAULTS) | {"name", "group", "placement", "surrogate", "surrogate_kind", "query_free",
                                  "description", "capture_attention", "requires_family"}


class InputError(ValueError):
    """Bad plan or sample input; the message names the file and the field."""


@dataclass(frozen=True)
class Condition:
    name: str
    placement: str
    surrogate: str  # template: "{query}", "{passage}" are filled per sample; "" when the placement has none
    separator: str
    rope_correction: str
    keep_bos: bool
    query_free: bool
    document_template: str
    query_template: str
    query_free_template: str
    answer_template: str


@dataclass(frozen=True)
class Plan:
    experiment_id: str
    baseline: str
    conditions: tuple


@dataclass(frozen=True)
class Layout:
    """One sample x condition: the token ids of the whole text and each segment's length."""
    sample_id: str
    condition: str
    placement: str
    rope_correction: str
    keep_bos: bool
    ids: tuple
    bos: int
    prefix: int
    doc: int
    suffix: int
    query: int
    answer: int

    @property
    def context(self):
        """Tokens before QUERY (what the research notebooks prefilled into the cache)."""
        return self.bos + self.prefix + self.doc + self.suffix

    @property
    def kept(self):
        """Cache entries a truncated condition keeps: BOS (unless dropped) and the document."""
        return (self.bos if self.keep_bos else 0) + self.doc


def load_plan(path):
    try:
        with open(path) as f:
            root = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: cannot read plan: {e}") from e
    if not isinstance(root, dict):
        raise InputError(f"{path}: $: expected a JSON object")
    _reject_unknown(path, "$", root, PLAN_KEYS)
    raw = root.get("conditions")
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{path}: $.conditions: expected a non-empty list")
    conditions, names = [], set()
    for i, node in enumerate(raw):
        c = _condition(path, f"$.conditions[{i}]", node, root)
        if c.name in names:
            raise InputError(f"{path}: $.conditions[{i}].name: duplicate condition name '{c.name}'")
        names.add(c.name)
        conditions.append(c)
    baseline = root.get("baseline") or next((c.name for c in conditions if c.placement == "NONE" and not c.query_free),
                                            None)
    if baseline not in names:
        raise InputError(f"{path}: $.baseline: no condition named '{baseline}'")
    return Plan(str(root.get("experiment_id", "bench")), baseline, tuple(conditions))


def _condition(path, where, node, root):
    if not isinstance(node, dict):
        raise InputError(f"{path}: {where}: expected an object")
    _reject_unknown(path, where, node, CONDITION_KEYS)

    def value(key, kind):
        v = node.get(key, root.get(key, DEFAULTS.get(key)))
        if not isinstance(v, kind):
            at = f"{where}.{key}" if key in node else f"$.{key}"
            raise InputError(f"{path}: {at}: expected {kind.__name__}, found {v!r}")
        return v

    name = node.get("name")
    if not isinstance(name, str) or not name or "/" in name:
        raise InputError(f"{path}: {where}.name: required, non-empty, no '/'")
    placement = str(node.get("placement", "NONE")).upper()
    if placement not in PLACEMENTS:
        raise InputError(f"{path}: {where}.placement: '{placement}' is not one the benchmark runs {PLACEMENTS}")
    rope = value("rope_correction", str).upper()
    if rope not in ROPE_CORRECTIONS:
        raise InputError(f"{path}: {where}.rope_correction: unknown value '{rope}' (expected one of {ROPE_CORRECTIONS})")
    kind = node.get("surrogate_kind")
    if kind is not None and kind not in ("oracle", "static"):
        raise InputError(f"{path}: {where}.surrogate_kind: '{kind}' needs dkv's producer; the benchmark takes "
                         "surrogate text ({query} or literal words)")
    surrogate = node.get("surrogate", "{query}" if kind == "oracle" else None)
    if placement == "NONE":
        if surrogate is not None:
            raise InputError(f"{path}: {where}.surrogate: placement NONE has no surrogate")
        surrogate = ""
    elif not isinstance(surrogate, str):
        raise InputError(f"{path}: {where}.surrogate: placement {placement} needs a surrogate text")
    unknown = re.findall(r"\{([a-z_]+)}", surrogate.replace("{query}", "").replace("{passage}", ""))
    if unknown:
        raise InputError(f"{path}: {where}.surrogate: unknown placeholder {{{unknown[0]}}} "
                         "(the benchmark fills {query} and {passage})")
    query_free = node.get("query_free", False)
    if not isinstance(query_free, bool):
        raise InputError(f"{path}: {where}.query_free: expected true or false, found {query_free!r}")
    return Condition(name=name, placement=placement, surrogate=surrogate, separator=value("separator", str),
                     rope_correction=rope, keep_bos=value("keep_bos", bool), query_free=query_free,
                     document_template=value("document_template", str), query_template=value("query_template", str),
                     query_free_template=value("query_free_template", str),
                     answer_template=value("answer_template", str))


def _reject_unknown(path, where, node, known):
    for key in node:
        if key not in known:
            raise InputError(f"{path}: {where}.{key}: unknown key")


def load_samples(path):
    """dkv's generic JSONL: one {"id", "query", "passage", "answer"} object per line."""
    samples, seen = [], set()
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{path}:{line_no}: not JSON: {e}") from e
            for field in ("id", "query", "passage", "answer"):
                v = record.get(field)
                if not isinstance(v, str if field != "id" else (str, int)) or v == "":
                    raise InputError(f"{path}:{line_no}: field '{field}': missing or not a non-empty string")
            if str(record["id"]) in seen:
                raise InputError(f"{path}:{line_no}: field 'id': duplicate sample id {record['id']!r}")
            seen.add(str(record["id"]))
            samples.append({"id": str(record["id"]), "query": record["query"], "passage": record["passage"],
                            "answer": record["answer"].strip()})
    if not samples:
        raise InputError(f"{path}: no samples")
    return samples


def segment_texts(c, sample):
    """[PREFIX, DOC, SUFFIX, QUERY, ANSWER] texts; BOS comes from the tokenizer's special tokens."""
    surrogate = re.sub(r"\{(query|passage)}", lambda m: sample[m.group(1)], c.surrogate)  # one pass, like dkv
    prefix = surrogate + c.separator if c.placement in ("PREFIX_FULL", "PREFIX_TRUNCATED") else ""
    suffix = c.separator + surrogate if c.placement == "SUFFIX" else ""
    doc = c.document_template.replace("{passage}", sample["passage"])
    query = (c.query_free_template if c.query_free else c.query_template).replace("{query}", sample["query"])
    answer = c.answer_template.replace("{answer}", sample["answer"])
    return [prefix, doc, suffix, query, answer]


def layout(tokenizer, c, sample):
    """Lays out one condition with a `tokenizers.Tokenizer` (special tokens on)."""
    segs = segment_texts(c, sample)
    lengths, previous = [], 0
    for k in range(len(segs) + 1):
        n = len(tokenizer.encode("".join(segs[:k])).ids)
        lengths.append(n - previous)
        previous = n
    ids = tokenizer.encode("".join(segs)).ids
    if sum(lengths) != len(ids):
        raise AssertionError(f"{sample['id']}/{c.name}: segment lengths {lengths} do not add up to {len(ids)} tokens")
    if lengths[5] == 0:
        raise InputError(f"sample {sample['id']}, condition {c.name}: the answer has no tokens")
    return Layout(sample_id=sample["id"], condition=c.name, placement=c.placement, rope_correction=c.rope_correction,
                  keep_bos=c.keep_bos, ids=tuple(ids), bos=lengths[0], prefix=lengths[1], doc=lengths[2],
                  suffix=lengths[3], query=lengths[4], answer=lengths[5])
