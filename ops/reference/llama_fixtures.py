#!/usr/bin/env python3
"""Reference fixtures for the Llama-family scorer, computed with HF transformers' own model code.

Builds a small byte-level BPE tokenizer.json, three tiny random models (Llama, Mistral, Qwen2) saved
with save_pretrained in float32, and for a few samples x every placement writes the expected answer
NLLs (eager attention, float32, CPU), segment token counts, the layer-0 document K/V check and the
attention shares of the conditions that capture them. Java tests (dkv.scorers.score.*FixtureTest)
must match them within 1e-4.

The placements follow /work/shared/DESIGN.md "Sequence layout" to the letter; this file is an
independent implementation of them on top of HF's modules (it shares no code with the Java side).

Run:  /opt/refvenv/bin/python ops/reference/llama_fixtures.py [--out scorers/src/test/resources/fixtures]
"""
import argparse
import json
import math
import os
import shutil

import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (DynamicCache, LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
                          Qwen2Config, Qwen2ForCausalLM)
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb, rotate_half  # noqa: F401 (documented use)

SEED = 20261123

SAMPLES = [
    {"id": "s1", "dataset": "fixture",
     "query": "what is the boiling point of water at sea level",
     "passage": "Water boils at 100 degrees Celsius at sea level. At higher altitudes the air pressure is lower, "
                "so water boils at a lower temperature, about 95 degrees in Denver.",
     "answer": "100 degrees Celsius"},
    {"id": "s2", "dataset": "fixture",
     "query": "who wrote the origin of species",
     "passage": "On the Origin of Species was written by Charles Darwin and published in 1859. The book introduced "
                "the theory that populations evolve over generations through natural selection",
     "answer": "Charles Darwin"},
    {"id": "s3", "dataset": "fixture",
     "query": "how long does it take to boil an egg",
     "passage": "A soft boiled egg takes about six minutes in boiling water, while a hard boiled egg needs ten to "
                "twelve minutes. Cool the eggs in cold water before peeling them.",
     "answer": "about six minutes for soft and ten to twelve minutes for hard"},
]

# Extra training text so the BPE vocabulary has whole words for the templates and surrogates.
CORPUS_EXTRA = [
    "Question: Answer: what is who wrote how long does it take the of and in at to a for",
    "boiling point of water temperature altitude pressure degrees Celsius Fahrenheit sea level",
    "Charles Darwin natural selection evolution species book published theory populations generations",
    "egg eggs boil boiled minutes soft hard cold water peeling cooking kitchen recipe time",
    "search query surrogate document passage keywords generated oracle relevant irrelevant random",
    # a word that only exists glued: makes "selection" + "ism" merge across the document/suffix boundary
    "selectionism " * 12,
]


def cond(name, placement, surrogate=None, separator="\n", rope_correction="HALF_SPLIT", keep_bos=True,
         query_free=False, capture_attention=False):
    # Field names and defaults of dkv.avro.ConditionSpec.
    return {"name": name, "placement": placement, "surrogate": surrogate, "separator": separator,
            "rope_correction": rope_correction, "keep_bos": keep_bos, "document_template": "{passage}",
            "query_template": "\n\nQuestion: {query}\nAnswer:", "query_free_template": "\n\nAnswer:",
            "answer_template": " {answer}", "query_free": query_free, "capture_attention": capture_attention}


def conditions_for(sample):
    s = sample["query"]  # oracle surrogate
    return [
        cond("bare", "NONE", capture_attention=True),
        cond("bare_qf", "NONE", query_free=True),
        cond("full", "PREFIX_FULL", s),
        cond("full_empty", "PREFIX_FULL", "", separator=""),
        cond("trunc", "PREFIX_TRUNCATED", s, capture_attention=True),
        cond("trunc_interleaved", "PREFIX_TRUNCATED", s, rope_correction="INTERLEAVED"),
        cond("trunc_uncorrected", "PREFIX_TRUNCATED", s, rope_correction="NONE"),
        cond("trunc_nobos", "PREFIX_TRUNCATED", s, keep_bos=False),
        cond("trunc_static", "PREFIX_TRUNCATED", "What is this passage about?"),
        cond("suffix", "SUFFIX", s, capture_attention=True),
        cond("suffix_qf", "SUFFIX", s, query_free=True),
        # no separator: BPE may merge the document's last word with the surrogate (s2 ends without punctuation)
        cond("suffix_glued", "SUFFIX", "ism", separator=""),
    ]


# --------------------------------------------------------------------------------------------- tokenizer

def build_tokenizer(with_bos):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=420, min_frequency=1, special_tokens=["<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    text = []
    for s in SAMPLES:
        text += [s["query"], s["passage"], s["answer"], "\n\nQuestion: " + s["query"] + "\nAnswer: " + s["answer"]]
    tok.train_from_iterator(text * 3 + CORPUS_EXTRA, trainer)
    if with_bos:  # like Llama: the post-processor adds BOS
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                           special_tokens=[("<s>", tok.token_to_id("<s>"))])
    else:  # like Qwen2: no BOS at all
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


# --------------------------------------------------------------------------------------------- layout

def segment_texts(c, sample):
    """BOS? . PREFIX . DOC . SUFFIX . QUERY . ANSWER texts (BOS comes from the tokenizer's special tokens)."""
    sur, sep = c["surrogate"] or "", c["separator"]
    p = c["placement"]
    prefix = sur + sep if p in ("PREFIX_FULL", "PREFIX_TRUNCATED") and (sur + sep) else ""
    suffix = sep + sur if p == "SUFFIX" else ""
    doc = c["document_template"].replace("{passage}", sample["passage"])
    query = (c["query_free_template"] if c["query_free"] else c["query_template"]).replace("{query}", sample["query"])
    answer = c["answer_template"].replace("{answer}", sample["answer"])
    return [("prefix", prefix), ("document", doc), ("suffix", suffix), ("query", query), ("answer", answer)]


def layout(tok, c, sample):
    """Token ids of the whole text and each segment's length by incremental tokenization."""
    segs = segment_texts(c, sample)
    text = "".join(t for _, t in segs)
    ids = tok.encode(text, add_special_tokens=True).ids
    lengths = {"bos": len(tok.encode("", add_special_tokens=True).ids)}
    prev, acc = lengths["bos"], ""
    for name, t in segs:
        acc += t
        n = len(tok.encode(acc, add_special_tokens=True).ids)
        lengths[name] = n - prev
        prev = n
    assert prev == len(ids)
    return ids, lengths


# --------------------------------------------------------------------------------------------- HF scoring

def rotary(model, positions):
    """cos/sin from the model's own rotary embedding (float32) for the given (possibly negative) positions."""
    pos = torch.tensor([positions], dtype=torch.long)
    dummy = torch.zeros(1, dtype=torch.float32)
    return model.model.rotary_emb(dummy, pos)


def rerotate_half_split(model, k, delta):
    cos, sin = rotary(model, [delta] * k.shape[2])
    _, k2 = apply_rotary_pos_emb(k, k, cos, sin)  # HF's own rotate_half pairing
    return k2


def rerotate_interleaved(model, k, delta):
    """The historical bug: rotate pairs (2j, 2j+1) with frequency j, although the model pairs (j, j + d/2)."""
    inv_freq = model.model.rotary_emb.inv_freq.to(torch.float32)
    ang = inv_freq * float(delta)
    cos, sin = torch.cos(ang), torch.sin(ang)
    x0, x1 = k[..., 0::2], k[..., 1::2]
    out = torch.empty_like(k)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x1 * cos + x0 * sin
    return out


def forward(model, ids, positions, cache=None, attentions=False):
    out = model(input_ids=torch.tensor([ids]), position_ids=torch.tensor([positions]),
                past_key_values=cache if cache is not None else DynamicCache(), use_cache=True,
                output_attentions=attentions)
    return out


def answer_logprobs(logits_rows, answer_ids):
    lp = torch.log_softmax(logits_rows.float(), dim=-1)
    return [lp[i, t].item() for i, t in enumerate(answer_ids)]


def shares(attn, rows, col_segments):
    """Mean over heads and rows of the attention mass on each segment's columns."""
    a = attn[0][:, rows, :].float()  # heads x rows x cols
    res = {}
    start = 0
    for name, n in col_segments:
        res[name] = a[:, :, start:start + n].sum(-1).mean().item() if n > 0 else 0.0
        start += n
    assert start == attn.shape[-1], (start, attn.shape)
    return res


def score(model, tok, c, sample):
    ids, L = layout(tok, c, sample)
    B, P, D, S, Q, A = L["bos"], L["prefix"], L["document"], L["suffix"], L["query"], L["answer"]
    T = len(ids)
    res = {"segments": L, "ids": ids}
    want_attn = c["capture_attention"]
    if c["placement"] in ("NONE", "PREFIX_FULL", "SUFFIX"):
        out = forward(model, ids, list(range(T)), attentions=want_attn)
        logits = out.logits[0]
        lps = answer_logprobs(logits[T - A - 1:T - 1], ids[T - A:])
        cache = out.past_key_values
        doc_k = cache.layers[0].keys[:, :, B + P:B + P + D]
        doc_v = cache.layers[0].values[:, :, B + P:B + P + D]
        doc_ids = ids[B + P:B + P + D]
        if want_attn:
            cols = [("bos", B), ("prefix", P), ("document", D), ("suffix", S), ("query", Q), ("answer", A)]
            res["attention"] = attention_layers(out.attentions, B + P + D + S, Q, A, cols)
    elif c["placement"] == "PREFIX_TRUNCATED":
        head = ids[:B + P + D]
        out1 = forward(model, head, list(range(B + P + D)))
        kept = list(range(B)) if c["keep_bos"] else []
        kept += list(range(B + P, B + P + D))
        shift = -(P + (0 if c["keep_bos"] else B))  # document moves from B+P+i to (B or 0)+i
        cache = DynamicCache()
        for li, layer in enumerate(out1.past_key_values.layers):
            k = layer.keys[:, :, kept]
            v = layer.values[:, :, kept]
            kb, kd = k[:, :, :len(kept) - D], k[:, :, len(kept) - D:]
            if c["rope_correction"] == "HALF_SPLIT":
                kd = rerotate_half_split(model, kd, shift)
            elif c["rope_correction"] == "INTERLEAVED":
                kd = rerotate_interleaved(model, kd, shift)
            cache.update(torch.cat([kb, kd], dim=2).contiguous(), v.contiguous(), li)
        start = len(kept)
        tail = ids[B + P + D:]
        doc_k = cache.layers[0].keys[:, :, start - D:start].clone()
        doc_v = cache.layers[0].values[:, :, start - D:start].clone()
        doc_ids = ids[B + P:B + P + D]
        out = forward(model, tail, list(range(start, start + len(tail))), cache=cache, attentions=want_attn)
        logits = torch.cat([out1.logits[0, -1:], out.logits[0]])  # the row before the tail predicts its first token
        n = len(tail)
        lps = answer_logprobs(logits[n - A:n], tail[n - A:])
        if want_attn:
            cols = [("bos", start - D), ("prefix", 0), ("document", D), ("suffix", 0), ("query", Q), ("answer", A)]
            res["attention"] = attention_layers(out.attentions, 0, Q, A, cols)
    else:
        raise ValueError(c["placement"])
    res["doc_layer0"] = (doc_ids, doc_k, doc_v)
    res["token_logprobs"] = lps
    res["nll_sum"] = -sum(lps)
    res["nll_mean"] = -sum(lps) / len(lps)
    res["answer_tokens"] = len(lps)
    return res


def attention_layers(attentions, query_row0, Q, A, cols):
    layers = []
    for li, attn in enumerate(attentions):
        q_rows = list(range(query_row0, query_row0 + Q))
        a_rows = list(range(query_row0 + Q, query_row0 + Q + A))
        layers.append({"layer": li, "from_query": shares(attn, q_rows, cols) if Q else None,
                       "from_answer": shares(attn, a_rows, cols)})
    return layers


# --------------------------------------------------------------------------------------------- models

def randomize(model, std, embed_std):
    """Large random init so placements differ visibly; norms and biases random too so loading bugs show."""
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                p.copy_(embed_std * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))


def specs(vocab):
    common = dict(vocab_size=vocab, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5,
                  bos_token_id=0, eos_token_id=1, attn_implementation="eager", torch_dtype="float32")
    return [
        # llama: rope_parameters form with llama3 scaling (a small original context so the scaling bites), untied
        ("llama", True, LlamaForCausalLM, LlamaConfig(
            **common, tie_word_embeddings=False,
            rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 64}), None, "legacy-no"),
        # mistral: legacy top-level rope_theta, tied embeddings, explicit head_dim != hidden/heads, 2 shards
        ("mistral", True, MistralForCausalLM, MistralConfig(
            **{**common, "num_hidden_layers": 3}, head_dim=32, tie_word_embeddings=True, sliding_window=None,
            rope_parameters={"rope_type": "default", "rope_theta": 5000.0}), "400KB", "legacy-yes"),
        # qwen2: qkv bias, linear scaling in rope_parameters, tokenizer without BOS
        ("qwen2", False, Qwen2ForCausalLM, Qwen2Config(
            **common, tie_word_embeddings=False, use_sliding_window=False,
            rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0}), None, "legacy-no"),
    ]


def legacy_rope_form(cfg_path):
    """Rewrite config.json to the older form: top-level rope_theta and no rope_parameters."""
    with open(cfg_path) as f:
        cfg = json.load(f)
    rp = cfg.pop("rope_parameters")
    assert rp["rope_type"] == "default", rp
    cfg["rope_theta"] = rp["rope_theta"]
    cfg["rope_scaling"] = None
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)


def max_abs(a, b):
    return (a - b).abs().max().item()


def build_fixture(out_root, name, with_bos, cls, config, shard, legacy, std=0.35):
    out = os.path.join(out_root, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    tok = build_tokenizer(with_bos)
    assert tok.get_vocab_size() == config.vocab_size, (tok.get_vocab_size(), config.vocab_size)
    torch.manual_seed(SEED)
    model = cls(config).eval()
    # a tied LM head turns the embedding scale into the logit scale: keep it moderate so float32 noise stays
    # far below the 1e-4 tolerance
    randomize(model, std, 0.5 if config.tie_word_embeddings else 1.0)
    kwargs = {"safe_serialization": True}
    if shard:
        kwargs["max_shard_size"] = shard
    model.save_pretrained(out, **kwargs)
    tok.save(os.path.join(out, "tokenizer.json"))
    if legacy == "legacy-yes":
        legacy_rope_form(os.path.join(out, "config.json"))
    for junk in ("generation_config.json",):
        if os.path.exists(os.path.join(out, junk)):
            os.remove(os.path.join(out, junk))

    # The saved directory must describe exactly the in-memory model: reload and compare logits.
    reloaded = cls.from_pretrained(out, attn_implementation="eager", dtype=torch.float32).eval()
    probe = torch.tensor([list(range(2, 40))])
    with torch.no_grad():
        assert max_abs(model(probe).logits, reloaded(probe).logits) == 0.0, "reloaded model differs"
    if shard:
        assert os.path.exists(os.path.join(out, "model.safetensors.index.json")), "expected a sharded checkpoint"

    records = []
    with torch.no_grad():
        for sample in SAMPLES:
            results = {c["name"]: score(model, tok, c, sample) for c in conditions_for(sample)}
            bare_ids, bare_k, bare_v = results["bare"]["doc_layer0"]
            for c in conditions_for(sample):
                r = results[c["name"]]
                ids, k, v = r.pop("doc_layer0")
                delta = max(max_abs(k, bare_k), max_abs(v, bare_v)) if ids == bare_ids else None
                records.append({"sample_id": sample["id"], "condition": c["name"], "ids": r["ids"],
                                "nll_mean": r["nll_mean"],
                                "nll_sum": r["nll_sum"], "answer_tokens": r["answer_tokens"],
                                "token_logprobs": r["token_logprobs"], "segments": r["segments"],
                                "document_kv_max_abs_delta": delta, "attention": r.get("attention")})
    fixture = {
        "model": name, "architecture": config.architectures[0] if config.architectures else cls.__name__,
        "generator": "ops/reference/llama_fixtures.py", "torch": torch.__version__,
        "transformers": __import__("transformers").__version__, "dtype": "float32", "seed": SEED,
        "inv_freq": model.model.rotary_emb.inv_freq.tolist(),
        "samples": SAMPLES, "conditions": {s["id"]: conditions_for(s) for s in SAMPLES}, "expected": records,
    }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(fixture, f, indent=1)
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    spread = {}
    for rec in records:
        spread.setdefault(rec["sample_id"], []).append(f'{rec["condition"]}={rec["nll_mean"]:.3f}')
    print(f"{name}: {size / 1024:.0f} KiB, files {sorted(os.listdir(out))}")
    for sid, v in spread.items():
        print("   ", sid, " ".join(v))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                  "scorers/src/test/resources/fixtures"))
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    vocab = build_tokenizer(True).get_vocab_size()
    for name, with_bos, cls, config, shard, legacy in specs(vocab):
        build_fixture(os.path.abspath(args.out), name, with_bos, cls, config, shard, legacy)


if __name__ == "__main__":
    main()
