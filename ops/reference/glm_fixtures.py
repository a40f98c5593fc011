#!/usr/bin/env python3
"""Reference fixture for the GLM (ChatGLM-6B, first version) prefix-LM family.

Builds a tiny random ChatGLM-format snapshot exactly as users download one (config.json, tokenizer_config.json,
a SentencePiece Unigram ice_text.model, two torch.save .bin shards with pytorch_model.bin.index.json), reloads
it, and computes with the independent float64 reference in glm_reference.py, for 3 samples x 10 conditions,
the token ids, segment lengths, 2D positions, answer log-probs / NLLs, document K/V checks against the bare
cache and a checksum of the layer-0 document keys. It asserts the prefix-LM invariants before writing.

The placements follow /work/shared/DESIGN.md "Prefix-LM layout".

Run:  /opt/refvenv/bin/python ops/reference/glm_fixtures.py [--out scorers/src/test/resources/fixtures]
"""
import argparse
import io
import json
import os
import shutil
import sys

import numpy as np
try:
    import sentencepiece as spm
except ImportError:  # ops/gpu/bench/make_glm_model.py imports this module for its constants only
    spm = None
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import glm_reference as ref  # noqa: E402
from sp_proto import fields as _fields  # noqa: E402

SEED = 20261123

# Tiny shape: head_dim 16 (each RoPE channel 8 dims, 4 frequencies), inner != 4 * hidden.
HIDDEN, HEADS, LAYERS, INNER = 64, 4, 3, 96

SAMPLES = [
    {"id": "s1", "dataset": "fixture",
     "query": "what is the boiling point of water at sea level",
     # a newline, a Chinese word, full-width digits (NFKC maps them to ASCII)
     "passage": "Water boils at 100 degrees Celsius at sea level (沸点).\nAt higher altitudes the air pressure is "
                "lower, so water boils at a lower temperature, about ９５ degrees in Denver.",
     "answer": "100 degrees Celsius"},
    {"id": "s2", "dataset": "fixture",
     "query": "who wrote the origin of species",
     # a tab; no final punctuation
     "passage": "Title:\tOn the Origin of Species\nOn the Origin of Species was written by Charles Darwin and "
                "published in 1859. The book introduced the theory that populations evolve through natural selection",
     "answer": "Charles Darwin"},
    {"id": "s3", "dataset": "fixture",
     "query": "how long does it take to boil an egg",
     # a run of 3 spaces (<|blank_3|>) and an emoji that is not in the vocabulary (byte fallback)
     "passage": "A soft boiled egg takes about six minutes in boiling water.   A hard boiled egg needs ten to twelve "
                "minutes 👋 Cool the eggs in cold water before peeling them.",
     "answer": "about six minutes for soft and ten to twelve minutes for hard"},
]

NOT_IN_VOCAB = "👋"  # kept out of the SentencePiece training text so it exercises byte fallback

CORPUS_EXTRA = [
    "Question: Answer: what is who wrote how long does it take the of and in at to a for",
    "boiling point of water temperature altitude pressure degrees Celsius Fahrenheit sea level 沸点 水",
    "Charles Darwin natural selection evolution species book published theory populations generations",
    "egg eggs boil boiled minutes soft hard cold water peeling cooking kitchen recipe time",
    "search query surrogate document passage keywords generated oracle relevant irrelevant random",
    "def main():\n    print('hello world')\t# greeting",
]

# ChatGLM-6B's user-defined pieces. In the real ice_text.model they sit at the end of the vocabulary:
# [MASK] 130000, [gMASK] 130001, [sMASK] 130002, <unused_0>, <sop> 130004, <eop> 130005, <ENC>, <dBLOCK>,
# <|tab|> 130008, <|blank_2|> 130009 ... <|blank_80|> 130087, then the 256 byte pieces 130088..130343;
# <pad> is 3 and <n> is 4. The tiny model is rearranged to the same order.
SPECIAL_PIECES = ["[MASK]", "[gMASK]", "[sMASK]", "<unused_0>", "<sop>", "<eop>", "<ENC>", "<dBLOCK>"]
WHITESPACE_PIECES = ["<|tab|>"] + [f"<|blank_{n}|>" for n in range(2, 81)]


def cond(name, placement, surrogate=None, separator="\n", rope_correction="HALF_SPLIT", query_free=False,
         surrogate_kind=None):
    # Field names and defaults of dkv.avro.ConditionSpec; keep_bos has no meaning here (no BOS before TEXT).
    return {"name": name, "placement": placement, "surrogate": surrogate,
            "surrogate_kind": surrogate_kind if surrogate_kind else ("oracle" if surrogate else None),
            "separator": separator, "rope_correction": rope_correction, "keep_bos": True,
            "document_template": "{passage}", "query_template": "\n\nQuestion: {query}\nAnswer:",
            "query_free_template": "\n\nAnswer:", "answer_template": " {answer}", "query_free": query_free,
            "capture_attention": False, "requires_family": "glm"}


def conditions_for(sample, tok):
    q = sample["query"]  # oracle surrogate
    # bare padded (research exp 09): the passage followed by one newline per token of the surrogate, the
    # surrogate counted as its own SentencePiece text (tokenizer.encode(s, add_special_tokens=False))
    n_pad = len(tok.encode_text(q))
    return [
        cond("bare", "NONE"),
        cond("bare_qf", "NONE", query_free=True),
        cond("suffix", "SUFFIX", q, separator="\n\n"),
        cond("suffix_qf", "SUFFIX", q, separator="\n\n", query_free=True),
        cond("full", "PREFIX_FULL", q),
        cond("trunc", "PREFIX_TRUNCATED", q),
        cond("trunc_uncorrected", "PREFIX_TRUNCATED", q, rope_correction="NONE"),
        # a space separator keeps the document's first piece "▁Word" as in bare (after <n> it has no "▁"),
        # so the layer-0 K/V check against the bare cache applies
        cond("trunc_space", "PREFIX_TRUNCATED", q, separator=" "),
        cond("trunc_empty", "PREFIX_TRUNCATED", "", separator=""),
        cond("bare_padded", "SUFFIX", "\n" * n_pad, separator="", surrogate_kind="padding"),
    ]


# --------------------------------------------------------------------------------------------- SentencePiece

def training_lines():
    lines = []
    for s in SAMPLES:
        passage = s["passage"].replace(NOT_IN_VOCAB, "")
        lines += [s["query"], passage, s["answer"], f"\n\nQuestion: {s['query']}\nAnswer: {s['answer']}",
                  f"{s['query']}\n{passage}\n\n{s['query']}\n\nAnswer: {s['answer']}"]
    lines = lines * 3 + CORPUS_EXTRA
    # the tokenizer sees preprocessed text (<n>, <|tab|>, <|blank_N|>), so the trainer must too
    return [ref.preprocess(x) for x in lines]


def train_sentencepiece():
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(training_lines()), model_writer=model, model_type="unigram", vocab_size=520,
        hard_vocab_limit=False, character_coverage=1.0, byte_fallback=True, normalization_rule_name="nmt_nfkc",
        user_defined_symbols=["<n>"] + SPECIAL_PIECES + WHITESPACE_PIECES,
        unk_id=0, bos_id=1, eos_id=2, pad_id=3, unk_piece="<unk>", bos_piece="<s>", eos_piece="</s>",
        pad_piece="<pad>", num_threads=1, minloglevel=2)
    return rearrange_pieces(model.getvalue())


def rearrange_pieces(proto):
    """Reorder ModelProto.pieces (field 1) like ChatGLM's ice_text.model: meta pieces 0-3, <n> 4, the learned
    pieces, then [MASK] .. <dBLOCK>, <|tab|>, <|blank_2..80|>, and the 256 byte pieces last."""
    fields = _fields(proto)
    pieces = []
    for number, raw, payload in fields:
        if number == 1:
            sub = {n: v for n, _, v in _fields(payload)}
            pieces.append((sub[1].decode("utf-8"), sub.get(3, 1), raw))  # type defaults to NORMAL (1)
    by_name = {p[0]: p for p in pieces}
    meta = pieces[:4]
    assert [p[0] for p in meta] == ["<unk>", "<s>", "</s>", "<pad>"], [p[0] for p in meta]
    tail_names = SPECIAL_PIECES + WHITESPACE_PIECES
    byte_pieces = [p for p in pieces if p[1] == 6]  # BYTE
    assert len(byte_pieces) == 256
    fixed = {p[0] for p in meta} | {"<n>"} | set(tail_names) | {p[0] for p in byte_pieces}
    learned = [p for p in pieces if p[0] not in fixed]
    order = meta + [by_name["<n>"]] + learned + [by_name[n] for n in tail_names] + byte_pieces
    assert len(order) == len(pieces)
    return b"".join(p[2] for p in order) + b"".join(raw for number, raw, _ in fields if number != 1)


# --------------------------------------------------------------------------------------------- snapshot

def config_json(tok_sp, vocab_size):
    # The keys and order of THUDM/chatglm-6b's config.json; ids consistent with the tiny vocabulary.
    pid = tok_sp.piece_to_id
    return {
        "_name_or_path": "dkv/tiny-random-chatglm-6b",
        "architectures": ["ChatGLMModel"],
        "auto_map": {"AutoConfig": "configuration_chatglm.ChatGLMConfig",
                     "AutoModel": "modeling_chatglm.ChatGLMForConditionalGeneration",
                     "AutoModelForSeq2SeqLM": "modeling_chatglm.ChatGLMForConditionalGeneration"},
        "bos_token_id": pid("<sop>"), "eos_token_id": pid("<eop>"), "mask_token_id": pid("[MASK]"),
        "gmask_token_id": pid("[gMASK]"), "pad_token_id": pid("<pad>"),
        "hidden_size": HIDDEN, "inner_hidden_size": INNER, "layernorm_epsilon": 1e-05,
        "max_sequence_length": 512, "model_type": "chatglm", "num_attention_heads": HEADS, "num_layers": LAYERS,
        "position_encoding_2d": True, "torch_dtype": "float16", "transformers_version": "4.23.1",
        "use_cache": True, "vocab_size": vocab_size,
    }


TOKENIZER_CONFIG = {
    "name_or_path": "dkv/tiny-random-chatglm-6b", "bos_token": "<sop>", "eos_token": "<eop>", "end_token": "</s>",
    "gmask_token": "[gMASK]", "mask_token": "[MASK]", "pad_token": "<pad>", "unk_token": "<unk>",
    "remove_space": False, "do_lower_case": False, "tokenizer_class": "ChatGLMTokenizer", "num_image_tokens": 0,
    "auto_map": {"AutoTokenizer": ["tokenization_chatglm.ChatGLMTokenizer", None]},
}


def random_state_dict(vocab_size):
    """Checkpoint tensors with the real names and dtypes: fp16 embeddings, linear weights and biases and the
    rotary inv_freq buffers; fp32 LayerNorm parameters; a separate lm_head.weight equal to the embeddings."""
    g = torch.Generator().manual_seed(SEED)

    def randn(*shape, std):
        return (std * torch.randn(*shape, generator=g)).to(torch.float16)

    def norm_params():  # far from (1, 0) so a loader that ignores LayerNorm weight or bias fails
        return ((1.0 + 0.2 * torch.randn(HIDDEN, generator=g)).to(torch.float32),
                (0.2 * torch.randn(HIDDEN, generator=g)).to(torch.float32))

    inv_freq = torch.from_numpy(ref.inv_freq_fp16(HIDDEN // HEADS // 2)).to(torch.float16)
    sd = {"transformer.word_embeddings.weight": randn(vocab_size, HIDDEN, std=0.5)}
    for i in range(LAYERS):
        p = f"transformer.layers.{i}."
        sd[p + "input_layernorm.weight"], sd[p + "input_layernorm.bias"] = norm_params()
        sd[p + "attention.query_key_value.weight"] = randn(3 * HIDDEN, HIDDEN, std=0.2)
        sd[p + "attention.query_key_value.bias"] = randn(3 * HIDDEN, std=0.1)
        sd[p + "attention.rotary_emb.inv_freq"] = inv_freq.clone()
        sd[p + "attention.dense.weight"] = randn(HIDDEN, HIDDEN, std=0.2)
        sd[p + "attention.dense.bias"] = randn(HIDDEN, std=0.1)
        sd[p + "post_attention_layernorm.weight"], sd[p + "post_attention_layernorm.bias"] = norm_params()
        sd[p + "mlp.dense_h_to_4h.weight"] = randn(INNER, HIDDEN, std=0.2)
        sd[p + "mlp.dense_h_to_4h.bias"] = randn(INNER, std=0.1)
        sd[p + "mlp.dense_4h_to_h.weight"] = randn(HIDDEN, INNER, std=0.2)
        sd[p + "mlp.dense_4h_to_h.bias"] = randn(HIDDEN, std=0.1)
    sd["transformer.final_layernorm.weight"], sd["transformer.final_layernorm.bias"] = norm_params()
    sd["lm_head.weight"] = sd["transformer.word_embeddings.weight"].clone()
    return sd


def save_shards(sd, out):
    """Two torch.save shards (embeddings + layers 0-1 | the rest, lm_head in the last one like the real
    checkpoint) and an index whose total_size is deliberately stale (computed as if the vocabulary still had
    the 20000 image tokens, as THUDM's index still says 150528)."""
    first = [n for n in sd if n.startswith("transformer.word_embeddings") or
             n.startswith("transformer.layers.0.") or n.startswith("transformer.layers.1.")]
    shards = [first, [n for n in sd if n not in first]]
    weight_map = {}
    for k, names in enumerate(shards, 1):
        fname = f"pytorch_model-{k:05d}-of-{len(shards):05d}.bin"
        torch.save({n: sd[n].clone().contiguous() for n in names}, os.path.join(out, fname))
        weight_map.update({n: fname for n in names})
    true_size = sum(t.numel() * t.element_size() for t in sd.values())
    stale = true_size + 2 * 20000 * HIDDEN * 2
    with open(os.path.join(out, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": stale}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
    return true_size, stale


def build_snapshot(out):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    proto = train_sentencepiece()
    with open(os.path.join(out, "ice_text.model"), "wb") as f:
        f.write(proto)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(out, "ice_text.model"))
    n_pieces = sp.get_piece_size()
    vocab_size = (n_pieces // 64 + 1) * 64  # padded beyond the pieces, like 130344 -> 130528
    cfg = config_json(sp, vocab_size)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(TOKENIZER_CONFIG, f, indent=2)
    sd = random_state_dict(vocab_size)
    sizes = save_shards(sd, out)
    return cfg, sd, n_pieces, sizes


# --------------------------------------------------------------------------------------------- checks

def max_abs(a, b):
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def cache_delta_by_layer(doc_cache, bare_doc_cache):
    return [max(max_abs(k, kb), max_abs(v, vb)) for (k, v), (kb, vb) in zip(doc_cache, bare_doc_cache)]


def key_checksum(k):
    """k: [tokens, heads, head_dim] flattened in that (C) order; weights 1..7 repeating catch permutations."""
    flat = k.reshape(-1)
    w = (np.arange(flat.size) % 7) + 1.0
    return {"sum": float(flat.sum()), "abs_sum": float(np.abs(flat).sum()), "weighted_sum": float(flat @ w)}


def published_rules(ids, tok):
    """Positions and mask derived from the ids the way the published get_position_ids/get_masks do
    (context_length = index of <sop>, mask_position = index of [gMASK]); used to check the explicit ones."""
    ctx = ids.index(tok.sop_id)
    gmask = ids.index(tok.gmask_id)
    n = len(ids)
    position = list(range(n))
    position[ctx:] = [gmask] * (n - ctx)
    block = [0] * ctx + list(range(1, n - ctx + 1))
    visible = np.tril(np.ones((n, n), dtype=bool))
    visible[:, :ctx] = True
    return position, block, visible


def check_conditions(model, tok, sample, conds, results):
    """Invariants on one sample's results; returns the measured values."""
    out = {}
    bare = results["bare"]
    # (1) prefill + continuation == one forward over the whole stream with the combined mask, and the
    #     explicit positions/mask equal the ones the published code derives from the ids.
    for c in conds:
        r = results[c["name"]]
        if c["placement"] == "PREFIX_TRUNCATED":
            continue
        ids = r["prompt_ids"] + r["continuation_ids"]
        position, block, visible = published_rules(ids, tok)
        assert position == r["prefill_positions"][0] + r["continuation_positions"][0], c["name"]
        assert block == r["prefill_positions"][1] + r["continuation_positions"][1], c["name"]
        logits, cache = model.forward(ids, position, block, visible)
        n = len(r["prompt_ids"])
        d = max(max_abs(logits[:n], r["prefill_logits"]), max_abs(logits[n:], r["cont_logits"]))
        assert d < 1e-9, (c["name"], d)
        out.setdefault("single_forward_max_abs_logit_delta", 0.0)
        out["single_forward_max_abs_logit_delta"] = max(out["single_forward_max_abs_logit_delta"], d)
    # (2) causal masking inside the continuation: two chunks (QUERY, then ANSWER) == one chunk; and the
    #     research's unmasked continuation (no mask with a past) gives a different NLL.
    for name in ("bare", "trunc"):
        r = results[name]
        past, q_len = r["cache"], r["segments"]["query"]
        pos, blk = r["continuation_positions"]
        ids = r["continuation_ids"]
        l1, past1 = model.forward(ids[:q_len], pos[:q_len], blk[:q_len],
                                  ref.chunk_visible(past[0][0].shape[0], q_len), past=past)
        l2, _ = model.forward(ids[q_len:], pos[q_len:], blk[q_len:],
                              ref.chunk_visible(past1[0][0].shape[0], len(ids) - q_len), past=past1)
        d = max_abs(np.concatenate([l1, l2]), r["cont_logits"])
        assert d < 1e-9, (name, d)
        unmasked, _ = model.forward(ids, pos, blk, np.ones((len(ids), past[0][0].shape[0] + len(ids)), bool),
                                    past=past)
        rows = np.concatenate([r["prefill_logits"][-1:], unmasked[:-1]])
        lps = ref.log_softmax_rows(rows)[np.arange(len(ids)), ids][len(ids) - r["answer_tokens"]:]
        out[f"{name}_nll_without_causal_continuation_mask"] = float(-lps.mean())
        assert abs(-lps.mean() - r["nll_mean"]) > 1e-6, "the continuation mask must matter"
    # (3) suffix changes document K/V (bidirectional TEXT): layers >= 1 differ; layer 0 cannot (its K/V
    #     depend only on the token and its position).
    for name in ("suffix", "bare_padded"):
        r = results[name]
        assert r["doc_ids"] == bare["doc_ids"], name
        by_layer = cache_delta_by_layer(r["doc_cache"], bare["doc_cache"])
        assert by_layer[0] < 1e-12, (name, by_layer)  # equal up to BLAS blocking of different lengths
        assert min(by_layer[1:]) > 1e-3, (name, by_layer)
        out[f"{name}_doc_kv_delta_by_layer"] = by_layer
    # (4) truncation with an empty prefix is bare, bit for bit.
    e = results["trunc_empty"]
    assert e["segments"]["prefix"] == 0 and e["token_logprobs"] == bare["token_logprobs"]
    assert all(max_abs(a[0], b[0]) == 0.0 and max_abs(a[1], b[1]) == 0.0 for a, b in zip(e["cache"], bare["cache"]))
    # (5) truncated + HALF_SPLIT: layer-0 kept keys equal a bare prefill over the kept ids (rotation by -P
    #     undone exactly up to rounding); NONE does not; block half and values untouched by the surgery.
    for name in ("trunc", "trunc_uncorrected", "trunc_space"):
        r = results[name]
        kept = r["prompt_ids"][r["segments"]["prefix"]:]
        _, kept_cache = model.forward(kept, *ref.prefill_positions(len(kept) - 2), ref.prefill_visible(len(kept) - 2))
        k0, v0 = r["cache"][0]
        half = k0.shape[-1] // 2
        dk = max_abs(k0[..., :half], kept_cache[0][0][..., :half])
        assert max_abs(k0[..., half:], kept_cache[0][0][..., half:]) < 1e-12 and max_abs(v0, kept_cache[0][1]) < 1e-12
        if r["segments"]["prefix"] and name != "trunc_uncorrected":
            assert dk < 1e-12, (name, dk)
        elif r["segments"]["prefix"]:
            assert dk > 1e-3, (name, dk)
        out[f"{name}_layer0_kept_keys_vs_bare_over_kept_ids"] = dk
    ts = results["trunc_space"]
    assert ts["doc_ids"] == bare["doc_ids"], "a space separator should keep the bare document pieces"
    return out


def check_rope(inv_freq):
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((5, HEADS, 8))
    pos = [0, 3, 17, 200, 511]
    back = ref.rope(ref.rope(x, pos, inv_freq), [-p for p in pos], inv_freq)
    composed = ref.rope(ref.rope(x, pos, inv_freq), [7] * 5, inv_freq)
    direct = ref.rope(x, [p + 7 for p in pos], inv_freq)
    d1, d2 = max_abs(back, x), max_abs(composed, direct)
    assert d1 < 1e-12 and d2 < 1e-12, (d1, d2)
    return {"rope_theta_then_minus_theta_max_abs": d1, "rope_composition_max_abs": d2}


# --------------------------------------------------------------------------------------------- expected.json

TOKENIZER_CASES = ["", "\n", "Hello world", " leading space", "trailing space ", "tab\there", "a  b   c",
                   "x" + " " * 85 + "y", "沸点 water", "９５ degrees", "wave 👋!", "def main():\n    print('hello world')"]


def tokenizer_cases(tok, legacy):
    return [{"text": t, "pieces": tok.pieces(t), "ids": tok.encode_text(t), "prompt_ids": tok.encode_prompt(t),
             "ids_num_image_tokens_20000": legacy.encode_text(t)} for t in TOKENIZER_CASES]


def dump_compact(obj, indent=0):
    """JSON with one key per line but lists of scalars on one line (ids, positions, log-probs)."""
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {dump_compact(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(x, (dict, list)) for x in obj):
        return "[\n" + ",\n".join(inner + dump_compact(x, indent + 1) for x in obj) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False)


def build_fixture(out_root):
    out = os.path.join(out_root, "glm")
    cfg, sd, n_pieces, (true_size, stale_size) = build_snapshot(out)

    weights, dtypes = ref.load_weights(out)
    for n, t in sd.items():  # the files on disk are exactly the tensors drawn
        assert np.array_equal(weights[n], t.to(torch.float64).numpy()), n
    model = ref.GlmModel(cfg, weights)
    stored_inv_freq = weights["transformer.layers.0.attention.rotary_emb.inv_freq"]
    assert np.array_equal(stored_inv_freq, model.inv_freq)
    tok = ref.GlmTokenizer(out)
    legacy = ref.GlmTokenizer(out, num_image_tokens=ref.LEGACY_NUM_IMAGE_TOKENS)
    assert (tok.sop_id, tok.eop_id, tok.mask_id, tok.gmask_id, tok.pad_id) == (
        cfg["bos_token_id"], cfg["eos_token_id"], cfg["mask_token_id"], cfg["gmask_token_id"], cfg["pad_token_id"])
    assert any(p.startswith("<0x") for p in tok.pieces(SAMPLES[2]["passage"])), "byte fallback not exercised"

    invariants = check_rope(model.inv_freq)
    records, conditions = [], {}
    for sample in SAMPLES:
        conds = conditions_for(sample, tok)
        conditions[sample["id"]] = conds
        results = {c["name"]: ref.score(model, tok, c, sample) for c in conds}
        invariants[sample["id"]] = check_conditions(model, tok, sample, conds, results)
        bare = results["bare"]
        for c in conds:
            r = results[c["name"]]
            by_layer = (cache_delta_by_layer(r["doc_cache"], bare["doc_cache"])
                        if r["doc_ids"] == bare["doc_ids"] else None)
            records.append({
                "sample_id": sample["id"], "condition": c["name"],
                "prompt_ids": r["prompt_ids"], "continuation_ids": r["continuation_ids"], "segments": r["segments"],
                "prefill_positions": r["prefill_positions"], "cache_positions": r["cache_positions"],
                "continuation_positions": r["continuation_positions"],
                "nll_mean": r["nll_mean"], "nll_sum": r["nll_sum"], "answer_tokens": r["answer_tokens"],
                "token_logprobs": r["token_logprobs"], "continuation_logprobs": r["continuation_logprobs"],
                "document_kv_max_abs_delta": by_layer[0] if by_layer else None,
                "document_kv_max_abs_delta_by_layer": by_layer,
                "document_keys_layer0_checksum": key_checksum(r["doc_cache"][0][0]),
            })

    fixture = {
        "model": "glm", "architecture": "ChatGLMModel", "generator": "ops/reference/glm_fixtures.py",
        "reference": "ops/reference/glm_reference.py (NumPy float64, independent of HF and of the Java code)",
        "torch": torch.__version__, "numpy": np.__version__, "sentencepiece": spm.__version__,
        "dtype": "float64", "seed": SEED,
        "alpha": ref.ALPHA, "inv_freq": model.inv_freq.tolist(),
        "sentencepiece_pieces": n_pieces, "vocab_size": cfg["vocab_size"],
        "special_ids": {"mask": tok.mask_id, "gmask": tok.gmask_id, "sop": tok.sop_id, "eop": tok.eop_id,
                        "pad": tok.pad_id, "newline": tok.piece_id("<n>"), "tab": tok.piece_id("<|tab|>"),
                        "blank_2": tok.piece_id("<|blank_2|>"), "blank_80": tok.piece_id("<|blank_80|>"),
                        "byte_0x00": tok.piece_id("<0x00>")},
        "tensor_dtypes": dtypes, "index_total_size": stale_size, "true_total_size": true_size,
        "conventions": {
            "prompt_ids": "TEXT . [gMASK] . <sop>; segments prefix/document/suffix by growth inside TEXT",
            "continuation_ids": "QUERY . ANSWER as a new SentencePiece text (dummy prefix); growth inside it",
            "positions": "[position channel, block channel] per token",
            "cache_positions": "positions the prefill cache entries carry after the placement's surgery "
                               "(truncated: PREFIX dropped; HALF_SPLIT: position channel - P)",
            "continuation_logprobs": "every continuation token; the first is predicted by the prefill's <sop> row",
            "token_logprobs": "the ANSWER tokens (the last `answer` continuation tokens); nll_mean = -their mean",
            "document_kv_max_abs_delta_by_layer": "max |K - K_bare|, |V - V_bare| over the document entries of the "
                                                  "cache the continuation attends to; null when the document ids "
                                                  "differ from bare's",
            "document_keys_layer0_checksum": "layer-0 document keys (after RoPE and any correction) flattened "
                                             "[token][head][dim]; weighted_sum uses weights 1 + (i mod 7)",
            "log_softmax": "over all vocab_size logits (padded rows included)",
        },
        "invariants": invariants,
        "tokenizer_cases": tokenizer_cases(tok, legacy),
        "samples": SAMPLES, "conditions": conditions, "expected": records,
    }
    with open(os.path.join(out, "expected.json"), "w") as f:
        f.write(dump_compact(fixture) + "\n")
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print(f"glm: {size / 1024:.0f} KiB, {n_pieces} pieces, vocab {cfg['vocab_size']}, files {sorted(os.listdir(out))}")
    spread = {}
    for rec in records:
        spread.setdefault(rec["sample_id"], []).append(f'{rec["condition"]}={rec["nll_mean"]:.3f}')
    for sid, v in spread.items():
        print("   ", sid, " ".join(v))
    print("    invariants:", json.dumps({k: v for k, v in invariants.items() if not k.startswith("s")}))
    for sid in ("s1", "s2", "s3"):
        print("   ", sid, json.dumps(invariants[sid]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                  "scorers/src/test/resources/fixtures"))
    args = ap.parse_args()
    torch.manual_seed(SEED)
    build_fixture(os.path.abspath(args.out))


if __name__ == "__main__":
    main()
