"""dkv's plan format, generic sample JSONL and sequence layout (docs/architecture.md "Layouts and recipes"), as
the HF benchmark reads them.

Decoder-only: a condition is BOS · PREFIX · DOC · SUFFIX · QUERY · ANSWER. PREFIX = surrogate + separator
(PREFIX_FULL, PREFIX_TRUNCATED), SUFFIX = separator + surrogate (SUFFIX). The whole text is tokenized once with
special tokens; segment k's length is len(tok(seg_1..seg_k)) - len(tok(seg_1..seg_k-1)), never a segment alone.

Encoder-decoder (DESIGN.md "Encoder-decoder layout (T5Gemma 2)"; `layout_encdec`): two streams, each laid out by
growth on its own. Encoder BOS · PREFIX · DOC (PREFIX = surrogate + separator for ENCODER_COENCODE and
ENCODER_COENCODE_MASKED, none for NONE), decoder BOS · QUERY · ANSWER. ENCODER_COENCODE_MASKED hides exactly the
PREFIX tokens from the decoder's cross attention (BOS and DOC stay visible; dkv's default cross mask).

Only what the benchmark plans use is accepted: surrogate text with {query} / {passage} placeholders or literal
words (dkv's "oracle" and "static" kinds) and `surrogate_kind: frequent_words` (dkv's v3 doc keywords, reproduced
here for the benchmark's wN vocabulary only); anything else is a one-line error naming file and JSON path, as
dkv's own plan reader does.
"""
import json
import re
from dataclasses import dataclass

DECODER_PLACEMENTS = ("NONE", "PREFIX_FULL", "PREFIX_TRUNCATED", "SUFFIX")
ENCODER_PLACEMENTS = ("ENCODER_COENCODE", "ENCODER_COENCODE_MASKED")
PLACEMENTS = DECODER_PLACEMENTS + ENCODER_PLACEMENTS
ENCODER_DECODER_FAMILIES = ("t5gemma2",)  # dkv's family name for T5Gemma 2 (requires_family)
ROPE_CORRECTIONS = ("NONE", "HALF_SPLIT", "INTERLEAVED")
DEFAULTS = {"document_template": "{passage}", "separator": "\n", "query_template": "\n\nQuestion: {query}\nAnswer:",
            "query_free_template": "\n\nAnswer:", "answer_template": " {answer}", "rope_correction": "HALF_SPLIT",
            "keep_bos": True}
PLAN_KEYS = set(DEFAULTS) | {"experiment_id", "description", "model", "seed", "samples", "baseline", "oracle",
                             "contrasts", "correlations", "conditions", "capture_attention"}
CONDITION_KEYS = set(DEFAULTS) | {"name", "group", "placement", "surrogate", "surrogate_kind", "query_free",
                                  "description", "capture_attention", "requires_family"}
SURROGATE_KINDS = ("oracle", "static", "frequent_words")
KIND_PARAMS = {"frequent_words": {"k"}}  # surrogate parameters a kind takes (dkv: keys outside CONDITION_KEYS)


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
    surrogate_kind: str = "text"  # "text": the surrogate is a template ({query}, {passage}); "frequent_words"
    k: int = 5                    # frequent_words: how many words
    requires_family: str = None

    @property
    def encoder_decoder(self):
        """Whether the condition is laid out for an encoder-decoder (two streams)."""
        return self.placement in ENCODER_PLACEMENTS or self.requires_family in ENCODER_DECODER_FAMILIES


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


@dataclass(frozen=True)
class EncDecLayout:
    """One sample x condition of an encoder-decoder: both streams' token ids and segment lengths."""
    sample_id: str
    condition: str
    placement: str
    enc_ids: tuple
    bos: int
    prefix: int
    doc: int
    dec_ids: tuple
    dec_bos: int
    query: int
    answer: int

    @property
    def hidden(self):
        """Encoder positions the decoder's cross attention must not see: the PREFIX under ENCODER_COENCODE_MASKED."""
        return range(self.bos, self.bos + self.prefix) if self.placement == "ENCODER_COENCODE_MASKED" else range(0)

    @property
    def cross_visible(self):
        """1 per visible encoder position, 0 per hidden one."""
        hidden = self.hidden
        return [0 if i in hidden else 1 for i in range(len(self.enc_ids))]


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
    _reject_unknown(path, where, node, CONDITION_KEYS | KIND_PARAMS.get(node.get("surrogate_kind"), set()))

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
    if kind is not None and kind not in SURROGATE_KINDS:
        raise InputError(f"{path}: {where}.surrogate_kind: '{kind}' needs dkv's producer; the benchmark takes "
                         f"surrogate text ({{query}} or literal words) or one of {SURROGATE_KINDS}")
    params = {key: v for key, v in node.items() if key not in CONDITION_KEYS}  # the kind's own (checked above)
    family = node.get("requires_family")
    if family is not None and not isinstance(family, str):
        raise InputError(f"{path}: {where}.requires_family: expected a string, found {family!r}")
    surrogate = node.get("surrogate", {"oracle": "{query}", "frequent_words": "{keywords}"}.get(kind))
    if placement == "NONE":
        if surrogate is not None:
            raise InputError(f"{path}: {where}.surrogate: placement NONE has no surrogate")
        surrogate = ""
    elif not isinstance(surrogate, str):
        raise InputError(f"{path}: {where}.surrogate: placement {placement} needs a surrogate text")
    fills = ("keyword", "keywords") if kind == "frequent_words" else ("query", "passage")
    unknown = [n for n in re.findall(r"\{([a-z_]+)}", surrogate) if n not in fills]
    if unknown:
        raise InputError(f"{path}: {where}.surrogate: unknown placeholder {{{unknown[0]}}} "
                         f"(the benchmark fills {', '.join('{' + f + '}' for f in fills)} here)")
    k = params.get("k", 5)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise InputError(f"{path}: {where}.k: expected a positive integer, found {k!r}")
    query_free = node.get("query_free", False)
    if not isinstance(query_free, bool):
        raise InputError(f"{path}: {where}.query_free: expected true or false, found {query_free!r}")
    return Condition(name=name, placement=placement, surrogate=surrogate, separator=value("separator", str),
                     rope_correction=rope, keep_bos=value("keep_bos", bool), query_free=query_free,
                     document_template=value("document_template", str), query_template=value("query_template", str),
                     query_free_template=value("query_free_template", str),
                     answer_template=value("answer_template", str),
                     surrogate_kind="frequent_words" if kind == "frequent_words" else "text", k=k,
                     requires_family=family)


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


WORD_VOCABULARY = re.compile(r"w\d+[.,?:]?")


def frequent_words(passage, k):
    """dkv's `frequent_words` surrogate (producers FrequentWordsSurrogate over corpus.Terms): the passage's k most
    frequent terms longer than two characters, ties by first appearance. dkv's terms come from Lucene's
    StandardTokenizer, lower-cased, without stop words; for the benchmark's vocabulary (wN words, '.' ',' '?' ':')
    that is every wN word, which is all this reproduces: other text is an error, not a silent mismatch."""
    words = passage.split()
    odd = next((w for w in words if not WORD_VOCABULARY.fullmatch(w)), None)
    if odd is not None:
        raise InputError(f"frequent_words: the benchmark reproduces dkv's keyword terms only for its wN vocabulary; "
                         f"found {odd!r}")
    counts = {}
    for w in words:
        term = w.rstrip(".,?:").lower()
        if len(term) > 2:
            counts[term] = counts.get(term, 0) + 1
    order = sorted(counts, key=lambda t: -counts[t])  # stable: ties keep their first appearance
    return order[:k]


def surrogate_text(c, sample):
    """The condition's surrogate for one sample, filled in one pass like dkv's placeholders."""
    if c.surrogate_kind == "frequent_words":
        top = frequent_words(sample["passage"], c.k)
        values = {"keyword": top[0] if top else "this", "keywords": " ".join(top)}
        return re.sub(r"\{(keywords?)}", lambda m: values[m.group(1)], c.surrogate)
    return re.sub(r"\{(query|passage)}", lambda m: sample[m.group(1)], c.surrogate)


def segment_texts(c, sample):
    """[PREFIX, DOC, SUFFIX, QUERY, ANSWER] texts; BOS comes from the tokenizer's special tokens."""
    surrogate = surrogate_text(c, sample)
    prefix = surrogate + c.separator if c.placement in ("PREFIX_FULL", "PREFIX_TRUNCATED") + ENCODER_PLACEMENTS else ""
    suffix = c.separator + surrogate if c.placement == "SUFFIX" else ""
    doc = c.document_template.replace("{passage}", sample["passage"])
    query = (c.query_free_template if c.query_free else c.query_template).replace("{query}", sample["query"])
    answer = c.answer_template.replace("{answer}", sample["answer"])
    return [prefix, doc, suffix, query, answer]


def growth(tokenizer, segs):
    """Token ids of the concatenated segments and [BOS, seg_1, ..., seg_n] lengths by incremental tokenization."""
    lengths, previous = [], 0
    for k in range(len(segs) + 1):
        n = len(tokenizer.encode("".join(segs[:k])).ids)
        lengths.append(n - previous)
        previous = n
    ids = tokenizer.encode("".join(segs)).ids
    if sum(lengths) != len(ids):
        raise AssertionError(f"segment lengths {lengths} do not add up to {len(ids)} tokens")
    return ids, lengths


def layout_encdec(tokenizer, c, sample):
    """Lays out one encoder-decoder condition: encoder BOS·PREFIX·DOC, decoder BOS·QUERY·ANSWER."""
    if not c.encoder_decoder:
        raise InputError(f"condition {c.name}: placement {c.placement} is not an encoder-decoder layout")
    prefix, doc, suffix, query, answer = segment_texts(c, sample)
    enc_ids, enc = growth(tokenizer, [prefix, doc])
    dec_ids, dec = growth(tokenizer, [query, answer])
    if dec[2] == 0:
        raise InputError(f"sample {sample['id']}, condition {c.name}: the answer has no tokens")
    if dec[0] == 0:
        raise InputError(f"sample {sample['id']}, condition {c.name}: the tokenizer adds no BOS, which the decoder "
                         "stream starts with")
    return EncDecLayout(sample_id=sample["id"], condition=c.name, placement=c.placement, enc_ids=tuple(enc_ids),
                        bos=enc[0], prefix=enc[1], doc=enc[2], dec_ids=tuple(dec_ids), dec_bos=dec[0], query=dec[1],
                        answer=dec[2])


def layout(tokenizer, c, sample):
    """Lays out one decoder-only condition with a `tokenizers.Tokenizer` (special tokens on)."""
    if c.encoder_decoder:
        raise InputError(f"condition {c.name}: placement {c.placement} (family {c.requires_family}) is an "
                         "encoder-decoder layout: use layout_encdec")
    segs = segment_texts(c, sample)
    try:
        ids, lengths = growth(tokenizer, segs)
    except AssertionError as e:
        raise AssertionError(f"{sample['id']}/{c.name}: {e}") from None
    if lengths[5] == 0:
        raise InputError(f"sample {sample['id']}, condition {c.name}: the answer has no tokens")
    return Layout(sample_id=sample["id"], condition=c.name, placement=c.placement, rope_correction=c.rope_correction,
                  keep_bos=c.keep_bos, ids=tuple(ids), bos=lengths[0], prefix=lengths[1], doc=lengths[2],
                  suffix=lengths[3], query=lengths[4], answer=lengths[5])
