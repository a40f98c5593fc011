#!/usr/bin/env python3
"""Reference fixtures for the T5Gemma 2 (encoder-decoder) and Gemma 3 (decoder-only) scorer families,
computed with HF transformers' own model code.

Builds a Gemma-like tokenizer (pad 0, eos 1, bos 2, unk 3, <start_of_image> 4, <end_of_image> 5,
<image_soft_token> 6; a BOS-adding post-processor; "▁" word pieces) trained on the fixture texts, two tiny random
float32 models saved with save_pretrained (three snapshots), and for each of 3 samples x every placement writes the
expected answer log-probs / NLLs (eager attention, float32, CPU), token ids, segment lengths and attention shares.

  t5gemma2/            T5Gemma2ForConditionalGeneration, as save_pretrained writes it (the hub's weight names:
                       model.encoder.layers.*, tied decoder embedding and LM head omitted, vision tower present)
  t5gemma2_textmodel/  the same weights under 5.17's module names (model.encoder.text_model.*) with the tied
                       tensors written out explicitly; HF loads it to identical logits (checked)
  gemma3/              Gemma3ForCausalLM, config.json rewritten to the legacy hub form (rope_theta,
                       rope_local_base_freq, rope_scaling, sliding_window_pattern; no layer_types/rope_parameters)

Every feature is on: num_heads*head_dim != hidden, query_pre_attn_scalar != head_dim, GQA, sliding windows shorter
than the texts (encoder even window so its asymmetry shows, decoder, Gemma 3), mixed layer types, linear RoPE
scaling on full layers with another theta than the sliding layers (and other thetas in the decoder than in the
encoder), all weights perturbed (norm weights != 0 so (1+w) bugs show, q/k norms, the EOI embedding), tied
embeddings. Softcapping stays null as in the real configs (the script checks what HF does with it).

Besides HF, the script carries an independent re-implementation of both forwards written from
T5GEMMA2-FACTS.md that reads the saved safetensors + config.json itself; every condition's logits must match HF
(the facts sheet is thereby executable). The placements follow /work/shared/DESIGN.md "Sequence layout" and
"Encoder-decoder layout (T5Gemma 2)".

Run:  /opt/refvenv/bin/python ops/reference/t5gemma2_fixtures.py [--out scorers/src/test/resources/fixtures]
"""
import argparse
import copy
import json
import math
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (AutoTokenizer, DynamicCache, Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast,
                          T5Gemma2Config, T5Gemma2ForConditionalGeneration)
from transformers.modeling_outputs import BaseModelOutput
from transformers.models.gemma3.modeling_gemma3 import apply_rotary_pos_emb as gemma3_apply_rotary_pos_emb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_fixtures as lf  # noqa: E402  (same samples, condition fields, layout-by-growth and shares helpers)

SEED = 20261202
GENERATOR = "ops/reference/t5gemma2_fixtures.py"

SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_image>", "<end_of_image>", "<image_soft_token>"]
PAD, EOS, BOS, UNK, BOI, EOI, IMAGE = range(7)
VOCAB = 400
SAMPLES = lf.SAMPLES
STATIC = "What is this passage about?"

# ------------------------------------------------------------------------------------------------ tokenizer


def build_tokenizer():
    """Gemma-like: SentencePiece-style "▁" pieces without a dummy prefix (Gemma 3), BOS added by the
    post-processor, no EOS; the image special tokens at fixed ids so the EOI replacement can be exercised."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="never", split=True)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, min_frequency=1, special_tokens=SPECIALS, show_progress=False)
    text = []
    for s in SAMPLES:
        text += [s["query"], s["passage"], s["answer"], "\n\nQuestion: " + s["query"] + "\nAnswer: " + s["answer"],
                 "Question: " + s["query"] + "\nAnswer: " + s["answer"]]
    tok.train_from_iterator(text * 3 + lf.CORPUS_EXTRA + [STATIC] * 3, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", pair="<bos> $A $B",
                                                       special_tokens=[("<bos>", BOS)])
    for i, t in enumerate(SPECIALS):
        assert tok.token_to_id(t) == i, (t, tok.token_to_id(t))
    return tok


def save_tokenizer(tok, out):
    """tokenizer.json + tokenizer_config.json as transformers writes them; AutoTokenizer must give the same ids."""
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                   unk_token="<unk>")
    fast.save_pretrained(out)
    auto = AutoTokenizer.from_pretrained(out)
    for s in SAMPLES:
        for t in (s["passage"], s["query"] + "<end_of_image>\n" + s["passage"], "", s["answer"]):
            assert auto(t).input_ids == tok.encode(t).ids, t


def growth(tok, segments):
    """Token ids of the whole stream and each segment's length by incremental tokenization (DESIGN.md)."""
    text = "".join(t for _, t in segments)
    ids = tok.encode(text, add_special_tokens=True).ids
    lengths = {"bos": len(tok.encode("", add_special_tokens=True).ids)}
    prev, acc = lengths["bos"], ""
    for name, t in segments:
        acc += t
        n = len(tok.encode(acc, add_special_tokens=True).ids)
        lengths[name] = n - prev
        prev = n
    assert prev == len(ids)
    return ids, lengths


# ------------------------------------------------------------------------------------------------ weights


def randomize(model, std=0.35, embed_std=0.25, norm_std=0.3, eoi_std=2.0):
    """Everything perturbed: (1+w) norms get w ~ N(0, norm_std) (not 0), the EOI embedding is random (HF inits it to
    zeros), projections N(0, std). Vision-tower weights get small noise (they are saved but never used for text)."""
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "vision_tower" in name or "multi_modal_projector" in name:
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
            elif name.endswith("eoi_embedding"):
                p.copy_(eoi_std * torch.randn(p.shape, generator=g))
            elif name.endswith("norm.weight"):
                p.copy_(norm_std * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                p.copy_(embed_std * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))


def max_abs(a, b):
    return (a.float() - b.float()).abs().max().item()


# ------------------------------------------------------------------------------------------------ configs

TEXT_COMMON = dict(hidden_size=64, intermediate_size=96, num_attention_heads=4, num_key_value_heads=2, head_dim=24,
                   query_pre_attn_scalar=20, rms_norm_eps=1e-6, hidden_activation="gelu_pytorch_tanh",
                   max_position_embeddings=512, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD,
                   attn_logit_softcapping=None, final_logit_softcapping=None, tie_word_embeddings=True)


def t5gemma2_config(vocab):
    encoder_text = dict(TEXT_COMMON, vocab_size=vocab, num_hidden_layers=3, sliding_window=8,
                        layer_types=["sliding_attention", "full_attention", "sliding_attention"],
                        rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 5000.0},
                                         "full_attention": {"rope_type": "linear", "factor": 4.0,
                                                            "rope_theta": 200000.0}})
    decoder = dict(TEXT_COMMON, vocab_size=vocab, num_hidden_layers=3, sliding_window=6,
                   layer_types=["sliding_attention", "sliding_attention", "full_attention"],
                   rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 8000.0},
                                    "full_attention": {"rope_type": "linear", "factor": 8.0,
                                                       "rope_theta": 500000.0}})
    # The encoder config class requires a vision tower (it defaults to a full SigLIP); a tiny one keeps the
    # snapshot small. Like the real checkpoint: vision_use_head false.
    vision = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=8,
                  patch_size=4, vision_use_head=False)
    return T5Gemma2Config(
        encoder=dict(text_config=encoder_text, vision_config=vision, mm_tokens_per_image=4, boi_token_index=BOI,
                     eoi_token_index=EOI, image_token_index=IMAGE),
        decoder=decoder, image_token_index=IMAGE, attn_implementation="eager", dtype="float32")


def gemma3_config(vocab):
    # layer_types equal to what sliding_window_pattern=2 derives, so the legacy rewrite below is exact
    return Gemma3TextConfig(**TEXT_COMMON, vocab_size=vocab, num_hidden_layers=3, sliding_window=10,
                            layer_types=["sliding_attention", "full_attention", "sliding_attention"],
                            rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 5000.0},
                                             "full_attention": {"rope_type": "linear", "factor": 4.0,
                                                                "rope_theta": 200000.0}},
                            attn_implementation="eager", dtype="float32")


def gemma3_legacy_config(cfg_path, pattern):
    """Rewrite config.json to the form the Gemma 3 hub checkpoints have (no layer_types, no rope_parameters)."""
    with open(cfg_path) as f:
        cfg = json.load(f)
    rp = cfg.pop("rope_parameters")
    lt = cfg.pop("layer_types")
    derived = ["sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(cfg["num_hidden_layers"])]
    assert lt == derived, (lt, derived)
    full, sliding = rp["full_attention"], rp["sliding_attention"]
    assert sliding["rope_type"] == "default" and full["rope_type"] == "linear"
    cfg["rope_theta"] = full["rope_theta"]
    cfg["rope_local_base_freq"] = sliding["rope_theta"]
    cfg["rope_scaling"] = {"rope_type": "linear", "factor": full["factor"]}
    cfg["sliding_window_pattern"] = pattern
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)


# ------------------------------------------------------------------------------------------------ T5Gemma 2 conditions

V3 = {"query_free": True, "query_free_template": "", "answer_template": "{answer}"}  # v3: answer-only decoder
WITH_QUERY = {"query_free": False, "query_template": "Question: {query}\nAnswer:", "answer_template": " {answer}"}


def t5cond(name, placement, surrogate=None, separator="\n", cross_mask="PREFIX", capture_attention=False,
           templates=V3):
    c = lf.cond(name, placement, surrogate, separator=separator, capture_attention=capture_attention)
    c.update(templates)
    c["requires_family"] = "t5gemma2"
    # Proposed ConditionSpec field (not in the Avro schema yet): which encoder tokens the decoder's cross attention
    # hides under ENCODER_COENCODE_MASKED. PREFIX = exactly the PREFIX segment (dkv's default);
    # RESEARCH_OFF_BY_ONE = encoder positions [0, P): BOS and all prefix tokens but the last (v3's bug).
    c["cross_mask"] = cross_mask
    return c


def t5_conditions_for(sample):
    s = sample["query"]  # oracle surrogate
    return [
        t5cond("bare", "NONE", capture_attention=True),
        t5cond("coencode", "ENCODER_COENCODE", s, capture_attention=True),
        t5cond("coencode_masked", "ENCODER_COENCODE_MASKED", s, capture_attention=True),
        t5cond("coencode_masked_offbyone", "ENCODER_COENCODE_MASKED", s, cross_mask="RESEARCH_OFF_BY_ONE"),
        t5cond("coencode_masked_empty", "ENCODER_COENCODE_MASKED", "", separator=""),
        t5cond("coencode_static", "ENCODER_COENCODE", STATIC),
        t5cond("coencode_masked_static", "ENCODER_COENCODE_MASKED", STATIC),
        # the surrogate ends in <end_of_image>: its embedding is replaced by eoi_embedding in the encoder
        t5cond("coencode_eoi", "ENCODER_COENCODE", s + "<end_of_image>"),
        t5cond("bare_query", "NONE", capture_attention=True, templates=WITH_QUERY),
        t5cond("coencode_masked_query", "ENCODER_COENCODE_MASKED", s, capture_attention=True, templates=WITH_QUERY),
    ]


def t5_layout(tok, c, sample):
    sur, sep = c["surrogate"] or "", c["separator"]
    prefix = sur + sep if c["placement"] in ("ENCODER_COENCODE", "ENCODER_COENCODE_MASKED") else ""
    doc = c["document_template"].replace("{passage}", sample["passage"])
    enc_ids, enc_len = growth(tok, [("prefix", prefix), ("document", doc)])
    query = (c["query_free_template"] if c["query_free"] else c["query_template"]).replace("{query}", sample["query"])
    answer = c["answer_template"].replace("{answer}", sample["answer"])
    dec_ids, dec_len = growth(tok, [("query", query), ("answer", answer)])
    assert dec_ids[0] == BOS and enc_ids[0] == BOS
    return enc_ids, enc_len, dec_ids, dec_len


def cross_visible(c, enc_len, n_enc):
    vis = [1] * n_enc
    if c["placement"] == "ENCODER_COENCODE_MASKED":
        b, p = enc_len["bos"], enc_len["prefix"]
        hidden = {"PREFIX": range(b, b + p), "RESEARCH_OFF_BY_ONE": range(0, p)}[c["cross_mask"]]
        for i in hidden:
            vis[i] = 0
    return vis


class EncoderPasses:
    """One encoder pass per distinct encoder input, run unmasked; conditions share it."""

    def __init__(self, model):
        self.model, self.outputs, self.calls = model, {}, 0

    def get(self, enc_ids):
        key = tuple(enc_ids)
        if key not in self.outputs:
            self.calls += 1
            enc = self.model.get_encoder()(input_ids=torch.tensor([enc_ids]), return_dict=True)
            self.outputs[key] = BaseModelOutput(last_hidden_state=enc.last_hidden_state)
        return self.outputs[key]


def t5_score(model, tok, c, sample, passes):
    enc_ids, enc_len, dec_ids, dec_len = t5_layout(tok, c, sample)
    vis = cross_visible(c, enc_len, len(enc_ids))
    enc_out = passes.get(enc_ids)
    want_attn = c["capture_attention"]
    # The mask goes to the decoder only: with encoder_outputs given, T5Gemma2Model.forward does not run the encoder
    # and uses attention_mask solely as the decoder's encoder_attention_mask (cross part of the merged mask).
    mask = torch.tensor([vis]) if c["placement"] == "ENCODER_COENCODE_MASKED" else None
    out = model(encoder_outputs=enc_out, attention_mask=mask, decoder_input_ids=torch.tensor([dec_ids]),
                use_cache=False, output_attentions=want_attn)
    logits = out.logits[0]
    T, A, Q = len(dec_ids), dec_len["answer"], dec_len["query"]
    lps = lf.answer_logprobs(logits[T - A - 1:T - 1], dec_ids[T - A:])
    res = {"encoder_ids": enc_ids, "encoder_segments": enc_len, "cross_visible": vis, "decoder_ids": dec_ids,
           "decoder_segments": dec_len, "token_logprobs": lps, "nll_sum": -sum(lps), "nll_mean": -sum(lps) / len(lps),
           "answer_tokens": len(lps), "logits": logits}
    h = enc_out.last_hidden_state[0]
    res["encoder_hidden_probe"] = {"abs_mean": h.abs().mean().item(), "row0_first8": h[0, :8].tolist(),
                                   "last_row_first8": h[-1, :8].tolist()}
    if want_attn:
        enc_cols = [("bos", enc_len["bos"]), ("prefix", enc_len["prefix"]), ("document", enc_len["document"])]
        dec_cols = [("bos", dec_len["bos"]), ("query", Q), ("answer", A)]
        layers = []
        for li, (sa, ca) in enumerate(zip(out.decoder_attentions, out.cross_attentions)):
            q_rows = list(range(dec_len["bos"], dec_len["bos"] + Q))
            a_rows = list(range(T - A, T))
            entry = {"layer": li, "layer_type": model.config.decoder.layer_types[li], "from_query": None,
                     "from_answer": {"encoder": lf.shares(ca, a_rows, enc_cols),
                                     "decoder": lf.shares(sa, a_rows, dec_cols)}}
            if Q:
                entry["from_query"] = {"encoder": lf.shares(ca, q_rows, enc_cols),
                                       "decoder": lf.shares(sa, q_rows, dec_cols)}
            for k in ("from_query", "from_answer"):
                if entry[k] is not None:  # one softmax over [self ; cross]: the two parts share one unit of mass
                    tot = sum(entry[k]["encoder"].values()) + sum(entry[k]["decoder"].values())
                    assert abs(tot - 1.0) < 1e-5, tot
            layers.append(entry)
        res["attention"] = layers
        hidden_cols = [i for i, v in enumerate(vis) if not v]
        if hidden_cols:  # hidden encoder tokens get exactly zero attention in every layer and head
            assert all(ca[0, :, :, hidden_cols].abs().max().item() == 0.0 for ca in out.cross_attentions)
    return res


def t5_checks(model, tok, sample, results):
    """Assertions of DESIGN.md's encoder-decoder invariants, on HF's own outputs."""
    conds = {c["name"]: c for c in t5_conditions_for(sample)}
    # 1. masked and unmasked conditions of one surrogate share one encoder input (hence one pass)
    for a, b in (("coencode", "coencode_masked"), ("coencode", "coencode_masked_offbyone"),
                 ("coencode_static", "coencode_masked_static")):
        assert results[a]["encoder_ids"] == results[b]["encoder_ids"], (a, b)
    # 2. the shared-pass decoder equals a full model call (encoder run inside) for every unmasked condition
    for name, c in conds.items():
        r = results[name]
        full = model(input_ids=torch.tensor([r["encoder_ids"]]), decoder_input_ids=torch.tensor([r["decoder_ids"]]),
                     use_cache=False).logits[0]
        if c["placement"] != "ENCODER_COENCODE_MASKED":
            assert max_abs(full, r["logits"]) == 0.0, name
        elif 0 in r["cross_visible"]:
            # passing the mask to the full model would also mask the encoder's self attention: a different thing
            masked_full = model(input_ids=torch.tensor([r["encoder_ids"]]),
                                attention_mask=torch.tensor([r["cross_visible"]]),
                                decoder_input_ids=torch.tensor([r["decoder_ids"]]), use_cache=False).logits[0]
            assert max_abs(masked_full, r["logits"]) > 1e-3, name
    # 3. masking nothing equals unmasked (an all-ones cross mask changes nothing, bit for bit)
    r = results["coencode"]
    ones = model(encoder_outputs=BaseModelOutput(last_hidden_state=r["encoder_hidden"]),
                 attention_mask=torch.ones(1, len(r["encoder_ids"]), dtype=torch.long),
                 decoder_input_ids=torch.tensor([r["decoder_ids"]]), use_cache=False).logits[0]
    assert max_abs(ones, r["logits"]) == 0.0
    # 4. an empty surrogate under the masked placement is the bare condition
    assert results["coencode_masked_empty"]["encoder_ids"] == results["bare"]["encoder_ids"]
    assert results["coencode_masked_empty"]["token_logprobs"] == results["bare"]["token_logprobs"]
    # 5. hiding changes the NLL, and the two mask variants differ
    assert results["coencode_masked"]["nll_mean"] != results["coencode"]["nll_mean"]
    assert results["coencode_masked"]["nll_mean"] != results["coencode_masked_offbyone"]["nll_mean"]
    # 6. the EOI token is in the encoder input
    assert EOI in results["coencode_eoi"]["encoder_ids"]


# ------------------------------------------------------------------------------------------------ Gemma 3 placements


def gemma3_rotary(model, k, positions, layer_type):
    pos = torch.tensor([positions], dtype=torch.long)
    return model.model.rotary_emb(k, pos, layer_type)


def gemma3_rerotate(model, k, delta, layer_type, pairing):
    """Rotate keys by delta positions with the RoPE table of this layer's type (sliding: its theta; full: its
    theta with linear scaling). HALF_SPLIT uses HF's rotate_half; INTERLEAVED is the historical bug."""
    if pairing == "HALF_SPLIT":
        cos, sin = gemma3_rotary(model, k, [delta] * k.shape[2], layer_type)
        _, k2 = gemma3_apply_rotary_pos_emb(k, k, cos, sin)
        return k2
    inv_freq = getattr(model.model.rotary_emb, f"{layer_type}_inv_freq").to(torch.float32)
    ang = inv_freq * float(delta)
    cos, sin = torch.cos(ang), torch.sin(ang)
    x0, x1 = k[..., 0::2], k[..., 1::2]
    out = torch.empty_like(k)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x1 * cos + x0 * sin
    return out


def gemma3_score(model, tok, c, sample):
    """lf.score with the truncation re-rotation done per layer type. The cache is a plain DynamicCache (no sliding
    layers): every layer keeps all entries and the sliding window is applied by the mask, on cache slot indices."""
    ids, L = lf.layout(tok, c, sample)
    B, P, D, S, Q, A = L["bos"], L["prefix"], L["document"], L["suffix"], L["query"], L["answer"]
    T = len(ids)
    res = {"segments": L, "ids": ids}
    want_attn = c["capture_attention"]
    layer_types = model.config.layer_types
    if c["placement"] in ("NONE", "PREFIX_FULL", "SUFFIX"):
        out = lf.forward(model, ids, list(range(T)), attentions=want_attn)
        logits = out.logits[0]
        lps = lf.answer_logprobs(logits[T - A - 1:T - 1], ids[T - A:])
        cache = out.past_key_values
        doc_k = cache.layers[0].keys[:, :, B + P:B + P + D]
        doc_v = cache.layers[0].values[:, :, B + P:B + P + D]
        res["logits"] = logits
        if want_attn:
            cols = [("bos", B), ("prefix", P), ("document", D), ("suffix", S), ("query", Q), ("answer", A)]
            res["attention"] = lf.attention_layers(out.attentions, B + P + D + S, Q, A, cols)
    elif c["placement"] == "PREFIX_TRUNCATED":
        head = ids[:B + P + D]
        out1 = lf.forward(model, head, list(range(B + P + D)))
        kept = list(range(B)) if c["keep_bos"] else []
        kept += list(range(B + P, B + P + D))
        shift = -(P + (0 if c["keep_bos"] else B))
        cache = DynamicCache()
        for li, layer in enumerate(out1.past_key_values.layers):
            k = layer.keys[:, :, kept]
            v = layer.values[:, :, kept]
            kb, kd = k[:, :, :len(kept) - D], k[:, :, len(kept) - D:]
            if c["rope_correction"] in ("HALF_SPLIT", "INTERLEAVED"):
                kd = gemma3_rerotate(model, kd, shift, layer_types[li], c["rope_correction"])
            cache.update(torch.cat([kb, kd], dim=2).contiguous(), v.contiguous(), li)
        start = len(kept)
        tail = ids[B + P + D:]
        doc_k = cache.layers[0].keys[:, :, start - D:start].clone()
        doc_v = cache.layers[0].values[:, :, start - D:start].clone()
        out = lf.forward(model, tail, list(range(start, start + len(tail))), cache=cache, attentions=want_attn)
        logits = torch.cat([out1.logits[0, -1:], out.logits[0]])
        n = len(tail)
        lps = lf.answer_logprobs(logits[n - A:n], tail[n - A:])
        if want_attn:
            cols = [("bos", start - D), ("prefix", 0), ("document", D), ("suffix", 0), ("query", Q), ("answer", A)]
            res["attention"] = lf.attention_layers(out.attentions, 0, Q, A, cols)
    else:
        raise ValueError(c["placement"])
    res["doc_layer0"] = (ids[B + P:B + P + D], doc_k, doc_v)
    res["token_logprobs"] = lps
    res["nll_sum"] = -sum(lps)
    res["nll_mean"] = -sum(lps) / len(lps)
    res["answer_tokens"] = len(lps)
    return res


# ------------------------------------------------------------------------------------------------ independent forward
# Written from T5GEMMA2-FACTS.md, reading the saved snapshot (safetensors names + raw config.json) without HF.


def ref_inv_freq(rope, head_dim):
    inv = 1.0 / (rope["rope_theta"] ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    if rope.get("rope_type", "default") == "linear":
        inv = inv / rope["factor"]
    return inv


def ref_text_config(cfg):
    """Layer types and per-type RoPE parameters from either config form."""
    n = cfg["num_hidden_layers"]
    lt = cfg.get("layer_types") or ["sliding_attention" if (i + 1) % cfg.get("sliding_window_pattern", 6)
                                    else "full_attention" for i in range(n)]
    rp = cfg.get("rope_parameters")
    if rp is None:  # legacy: rope_theta (+ rope_scaling) for full layers, rope_local_base_freq for sliding layers
        full = dict(cfg.get("rope_scaling") or {"rope_type": "default"})
        full["rope_theta"] = cfg.get("rope_theta", 1_000_000.0)
        rp = {"full_attention": full,
              "sliding_attention": {"rope_type": "default", "rope_theta": cfg.get("rope_local_base_freq", 10_000.0)}}
    inv = {t: ref_inv_freq(rp[t], cfg["head_dim"]) for t in set(lt)}
    return lt, inv


def ref_rms(x, w, eps):
    x = x.float()
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * (1.0 + w.float())


def ref_rope(x, positions, inv):
    freqs = positions.float()[:, None] * inv[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    half = x.shape[-1] // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * emb.cos() + rot * emb.sin()


def ref_attention(w, p, cfg, x, positions, inv, mask, cross=None, cross_mask=None):
    H, KV, d, eps = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"], cfg["rms_norm_eps"]
    T = x.shape[0]
    q = (x @ w[p + "self_attn.q_proj.weight"].T).view(T, H, d).transpose(0, 1)
    k = (x @ w[p + "self_attn.k_proj.weight"].T).view(T, KV, d).transpose(0, 1)
    v = (x @ w[p + "self_attn.v_proj.weight"].T).view(T, KV, d).transpose(0, 1)
    q = ref_rope(ref_rms(q, w[p + "self_attn.q_norm.weight"], eps), positions, inv)
    k = ref_rope(ref_rms(k, w[p + "self_attn.k_norm.weight"], eps), positions, inv)
    if cross is not None:  # merged attention: encoder keys/values through the same k/v projections and k-norm, no RoPE
        Te = cross.shape[0]
        ck = ref_rms((cross @ w[p + "self_attn.k_proj.weight"].T).view(Te, KV, d).transpose(0, 1),
                     w[p + "self_attn.k_norm.weight"], eps)
        cv = (cross @ w[p + "self_attn.v_proj.weight"].T).view(Te, KV, d).transpose(0, 1)
        k, v = torch.cat([k, ck], 1), torch.cat([v, cv], 1)
        mask = torch.cat([mask, cross_mask], -1)
    k, v = k.repeat_interleave(H // KV, 0), v.repeat_interleave(H // KV, 0)
    s = (q @ k.transpose(-1, -2)) * cfg["query_pre_attn_scalar"] ** -0.5
    s = s.masked_fill(~mask, float("-inf"))
    o = (torch.softmax(s, -1) @ v).transpose(0, 1).reshape(T, H * d)
    return o @ w[p + "self_attn.o_proj.weight"].T


def ref_block(w, p, cfg, x, positions, inv, mask, norms, cross=None, cross_mask=None):
    eps = cfg["rms_norm_eps"]
    pre_attn, post_attn = norms
    a = ref_attention(w, p, cfg, ref_rms(x, w[p + pre_attn], eps), positions, inv, mask, cross, cross_mask)
    x = x + ref_rms(a, w[p + post_attn], eps)
    h = ref_rms(x, w[p + "pre_feedforward_layernorm.weight"], eps)
    h = torch.nn.functional.gelu(h @ w[p + "mlp.gate_proj.weight"].T, approximate="tanh") * (
        h @ w[p + "mlp.up_proj.weight"].T)
    return x + ref_rms(h @ w[p + "mlp.down_proj.weight"].T, w[p + "post_feedforward_layernorm.weight"], eps)


def ref_embed(table, ids, hidden, eoi=None, eoi_id=None):
    x = table[torch.tensor(ids)] * torch.tensor(hidden ** 0.5, dtype=table.dtype)
    if eoi is not None:
        x[torch.tensor(ids) == eoi_id] = eoi
    return x


def ref_masks(n_q, n_k, kind, window):
    q = torch.arange(n_q)[:, None]
    k = torch.arange(n_k)[None, :]
    if kind == "encoder_full":
        return torch.ones(n_q, n_k, dtype=torch.bool)
    if kind == "encoder_sliding":  # keys in [q - (W+1)//2 + 1, q + W//2]
        return (k >= q - (window + 1) // 2 + 1) & (k <= q + window // 2)
    if kind == "causal_full":
        return k <= q
    if kind == "causal_sliding":  # keys in (q - W, q]
        return (k <= q) & (k > q - window)
    raise ValueError(kind)


def ref_t5gemma2(snapshot):
    with open(os.path.join(snapshot, "config.json")) as f:
        cfg = json.load(f)
    w = load_file(os.path.join(snapshot, "model.safetensors"))
    ecfg, dcfg = cfg["encoder"]["text_config"], cfg["decoder"]
    # both weight-name layouts: hub (model.encoder.layers.*) and 5.17 modules (model.encoder.text_model.*)
    ep = "model.encoder.text_model." if "model.encoder.text_model.norm.weight" in w else "model.encoder."
    table, eoi = w[ep + "embed_tokens.weight"], w[ep + "embed_tokens.eoi_embedding"]
    eoi_id = cfg["encoder"]["eoi_token_index"]
    e_lt, e_inv = ref_text_config(ecfg)
    d_lt, d_inv = ref_text_config(dcfg)
    norms = ("pre_self_attn_layernorm.weight", "post_self_attn_layernorm.weight")

    def encode(ids):
        x = ref_embed(table, ids, ecfg["hidden_size"], eoi, eoi_id)
        pos = torch.arange(len(ids))
        for i, t in enumerate(e_lt):
            kind = "encoder_sliding" if t == "sliding_attention" else "encoder_full"
            x = ref_block(w, f"{ep}layers.{i}.", ecfg, x, pos, e_inv[t], ref_masks(len(ids), len(ids), kind,
                                                                                 ecfg["sliding_window"]), norms)
        return ref_rms(x, w[ep + "norm.weight"], ecfg["rms_norm_eps"])

    def decode(enc, visible, ids):
        x = ref_embed(table, ids, dcfg["hidden_size"], eoi, eoi_id)  # decoder embedding = encoder's (tied)
        pos = torch.arange(len(ids))
        cross_mask = torch.tensor(visible, dtype=torch.bool)[None, :].expand(len(ids), -1)  # never windowed
        for i, t in enumerate(d_lt):
            kind = "causal_sliding" if t == "sliding_attention" else "causal_full"
            x = ref_block(w, f"model.decoder.layers.{i}.", dcfg, x, pos, d_inv[t],
                          ref_masks(len(ids), len(ids), kind, dcfg["sliding_window"]), norms, enc, cross_mask)
        x = ref_rms(x, w["model.decoder.norm.weight"], dcfg["rms_norm_eps"])
        logits = x @ table.T  # lm_head tied to the encoder embedding
        cap = dcfg.get("final_logit_softcapping")
        return logits if cap is None else torch.tanh(logits / cap) * cap

    return encode, decode


def ref_gemma3(snapshot):
    with open(os.path.join(snapshot, "config.json")) as f:
        cfg = json.load(f)
    w = load_file(os.path.join(snapshot, "model.safetensors"))
    lt, inv = ref_text_config(cfg)
    norms = ("input_layernorm.weight", "post_attention_layernorm.weight")
    table = w["model.embed_tokens.weight"]

    def forward(ids):
        x = ref_embed(table, ids, cfg["hidden_size"])
        pos = torch.arange(len(ids))
        for i, t in enumerate(lt):
            kind = "causal_sliding" if t == "sliding_attention" else "causal_full"
            x = ref_block(w, f"model.layers.{i}.", cfg, x, pos, inv[t],
                          ref_masks(len(ids), len(ids), kind, cfg["sliding_window"]), norms)
        x = ref_rms(x, w["model.norm.weight"], cfg["rms_norm_eps"])
        logits = x @ w.get("lm_head.weight", table).T
        cap = cfg.get("final_logit_softcapping")
        return logits if cap is None else torch.tanh(logits / cap) * cap

    return forward


# ------------------------------------------------------------------------------------------------ softcapping probe


def softcap_probe(model, cls, cfg_of, inputs):
    """What HF 5.17 does with the two softcapping fields: attn_logit_softcapping is never passed to the attention
    function (no effect); final_logit_softcapping is applied to the logits as cap * tanh(logits / cap)."""
    base = model(**inputs).logits
    m1 = variant(model, cls, lambda c: setattr(cfg_of(c), "attn_logit_softcapping", 0.5))
    assert max_abs(m1(**inputs).logits, base) == 0.0, "attn_logit_softcapping had an effect"
    m2 = variant(model, cls, lambda c: setattr(cfg_of(c), "final_logit_softcapping", 3.0))
    assert max_abs(m2(**inputs).logits, torch.tanh(base / 3.0) * 3.0) < 1e-5, "final softcap is not cap*tanh(x/cap)"


# ------------------------------------------------------------------------------------------------ fixtures


def variant(model, cls, edit):
    """The same weights under an edited copy of the config (eager attention kept)."""
    cfg = copy.deepcopy(model.config)
    edit(cfg)
    m = cls(cfg).eval()
    m.load_state_dict(model.state_dict())
    return m


def no_window(cfg):
    cfg.sliding_window = 10_000


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def dir_size(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def rope_tables(rotary, layer_types):
    return {t: getattr(rotary, f"{t}_inv_freq").tolist() for t in sorted(set(layer_types))}


def weight_layout(path):
    keys = sorted(load_file(path).keys())
    vision = [k for k in keys if ".vision_tower." in k or ".multi_modal_projector." in k]
    return {"keys": len(keys), "vision_keys": vision, "text_keys": [k for k in keys if k not in vision]}


def build_t5gemma2(out_root, tok):
    name = "t5gemma2"
    out = os.path.join(out_root, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    config = t5gemma2_config(tok.get_vocab_size())
    torch.manual_seed(SEED)
    model = T5Gemma2ForConditionalGeneration(config).eval()
    randomize(model)
    # tied: the decoder embedding (weight and eoi_embedding) and the LM head are the encoder's tensors
    enc_emb = model.model.encoder.text_model.embed_tokens
    assert model.model.decoder.embed_tokens.weight is enc_emb.weight
    assert model.model.decoder.embed_tokens.eoi_embedding is enc_emb.eoi_embedding
    assert model.lm_head.out_proj.weight is enc_emb.weight
    model.save_pretrained(out, safe_serialization=True)
    save_tokenizer(tok, out)

    probe = dict(input_ids=torch.tensor([list(range(2, 40)) + [EOI, 9]]),
                 decoder_input_ids=torch.tensor([[BOS] + list(range(20, 34))]), use_cache=False)
    with torch.no_grad():
        reloaded = T5Gemma2ForConditionalGeneration.from_pretrained(out, attn_implementation="eager",
                                                                    dtype=torch.float32).eval()
        assert max_abs(model(**probe).logits, reloaded(**probe).logits) == 0.0, "reloaded model differs"
        softcap_probe(model, T5Gemma2ForConditionalGeneration, lambda c: c.decoder, probe)

    # The other weight-name layout: 5.17's module names, tied tensors written out. HF must load it identically.
    alt = os.path.join(out_root, name + "_textmodel")
    shutil.rmtree(alt, ignore_errors=True)
    shutil.copytree(out, alt)
    sd = load_file(os.path.join(out, "model.safetensors"))
    renamed = {}
    for k, v in sd.items():
        for old in ("model.encoder.layers.", "model.encoder.embed_tokens.", "model.encoder.norm."):
            if k.startswith(old):
                k = "model.encoder.text_model." + k[len("model.encoder."):]
        renamed[k] = v.contiguous()
    renamed["model.decoder.embed_tokens.weight"] = sd["model.encoder.embed_tokens.weight"].clone()
    renamed["model.decoder.embed_tokens.eoi_embedding"] = sd["model.encoder.embed_tokens.eoi_embedding"].clone()
    renamed["lm_head.out_proj.weight"] = sd["model.encoder.embed_tokens.weight"].clone()
    save_file(renamed, os.path.join(alt, "model.safetensors"), metadata={"format": "pt"})
    with torch.no_grad():
        alt_model = T5Gemma2ForConditionalGeneration.from_pretrained(alt, attn_implementation="eager",
                                                                     dtype=torch.float32).eval()
        assert max_abs(model(**probe).logits, alt_model(**probe).logits) == 0.0, "text_model layout differs"

    encode, decode = ref_t5gemma2(out)
    encode_alt, decode_alt = ref_t5gemma2(alt)
    records, ref_delta = [], 0.0
    passes = EncoderPasses(model)
    n_distinct = 0
    with torch.no_grad():
        for sample in SAMPLES:
            conds = t5_conditions_for(sample)
            before = passes.calls
            results = {c["name"]: t5_score(model, tok, c, sample, passes) for c in conds}
            for r in results.values():
                r["encoder_hidden"] = passes.outputs[tuple(r["encoder_ids"])].last_hidden_state
            n_distinct += len({tuple(r["encoder_ids"]) for r in results.values()})
            assert passes.calls - before == len({tuple(r["encoder_ids"]) for r in results.values()})
            t5_checks(model, tok, sample, results)
            for c in conds:
                r = results[c["name"]]
                enc = encode(r["encoder_ids"])
                ref_delta = max(ref_delta, max_abs(enc, r["encoder_hidden"][0]))
                ref_logits = decode(enc, r["cross_visible"], r["decoder_ids"])
                ref_delta = max(ref_delta, max_abs(ref_logits, r["logits"]))
                if c["name"] == "coencode_masked":
                    e2 = encode_alt(r["encoder_ids"])
                    ref_delta = max(ref_delta, max_abs(decode_alt(e2, r["cross_visible"], r["decoder_ids"]),
                                                       r["logits"]))
                records.append({"sample_id": sample["id"], "condition": c["name"],
                                **{k: r[k] for k in ("encoder_ids", "encoder_segments", "cross_visible", "decoder_ids",
                                                     "decoder_segments", "nll_mean", "nll_sum", "answer_tokens",
                                                     "token_logprobs", "encoder_hidden_probe")},
                                "attention": r.get("attention")})
    assert ref_delta < 1e-4, f"independent forward differs from HF by {ref_delta}"
    assert passes.calls == n_distinct
    # the windows bite: without them the encoder output (every sample) and the decoder logits differ
    with torch.no_grad():
        m_enc = variant(model, T5Gemma2ForConditionalGeneration, lambda c: no_window(c.encoder.text_config))
        m_dec = variant(model, T5Gemma2ForConditionalGeneration, lambda c: no_window(c.decoder))
        for rec in records:
            enc_ids = torch.tensor([rec["encoder_ids"]])
            if rec["condition"] == "bare":
                assert max_abs(m_enc.get_encoder()(input_ids=enc_ids).last_hidden_state,
                               passes.outputs[tuple(rec["encoder_ids"])].last_hidden_state) > 1e-3
            if rec["condition"] == "bare_query":
                dec_ids = torch.tensor([rec["decoder_ids"]])
                assert max_abs(m_dec(input_ids=enc_ids, decoder_input_ids=dec_ids, use_cache=False).logits,
                               model(input_ids=enc_ids, decoder_input_ids=dec_ids, use_cache=False).logits) > 1e-3
    fixture = {
        "model": name, "architecture": "T5Gemma2ForConditionalGeneration", "generator": GENERATOR,
        "torch": torch.__version__, "transformers": __import__("transformers").__version__, "dtype": "float32",
        "seed": SEED, "decoder_start_token_id": BOS,
        "inv_freq": {"encoder": rope_tables(model.model.encoder.text_model.rotary_emb,
                                            config.encoder.text_config.layer_types),
                     "decoder": rope_tables(model.model.decoder.rotary_emb, config.decoder.layer_types)},
        "weight_layout": weight_layout(os.path.join(out, "model.safetensors")),
        "checks": {"encoder_passes": passes.calls, "independent_forward_max_abs_delta": ref_delta,
                   "shared_encoder_pass_equals_full_model_call": True, "all_ones_cross_mask_equals_unmasked": True,
                   "empty_masked_equals_bare": True, "attn_logit_softcapping_ignored_by_hf": True},
        "samples": SAMPLES, "conditions": {s["id"]: t5_conditions_for(s) for s in SAMPLES}, "expected": records,
    }
    write_json(os.path.join(out, "expected.json"), fixture)
    alt_fixture = dict(fixture, model=name + "_textmodel",
                       weight_layout=weight_layout(os.path.join(alt, "model.safetensors")))
    write_json(os.path.join(alt, "expected.json"), alt_fixture)
    report(name, out, records)
    report(name + "_textmodel", alt, [])
    print(f"    encoder passes {passes.calls} for {len(records)} conditions; "
          f"independent forward max |d| {ref_delta:.2e}")


def build_gemma3(out_root, tok):
    name = "gemma3"
    out = os.path.join(out_root, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    config = gemma3_config(tok.get_vocab_size())
    torch.manual_seed(SEED)
    model = Gemma3ForCausalLM(config).eval()
    randomize(model)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    model.save_pretrained(out, safe_serialization=True)
    save_tokenizer(tok, out)
    gemma3_legacy_config(os.path.join(out, "config.json"), pattern=2)

    probe = dict(input_ids=torch.tensor([list(range(2, 60))]))
    with torch.no_grad():
        reloaded = Gemma3ForCausalLM.from_pretrained(out, attn_implementation="eager", dtype=torch.float32).eval()
        assert reloaded.config.layer_types == config.layer_types
        assert max_abs(model(**probe).logits, reloaded(**probe).logits) == 0.0, "reloaded model differs"
        softcap_probe(model, Gemma3ForCausalLM, lambda c: c, probe)
        # the plain DynamicCache used for the placements gives HF's default-cache logits
        d = max_abs(model(**probe).logits, model(**probe, past_key_values=DynamicCache(), use_cache=True).logits)
        assert d < 1e-5, d

    ref = ref_gemma3(out)
    records, ref_delta = [], 0.0
    with torch.no_grad():
        for sample in SAMPLES:
            conds = lf.conditions_for(sample)
            results = {c["name"]: gemma3_score(model, tok, c, sample) for c in conds}
            bare_ids, bare_k, bare_v = results["bare"]["doc_layer0"]
            for c in conds:
                r = results[c["name"]]
                ids, k, v = r.pop("doc_layer0")
                delta = max(max_abs(k, bare_k), max_abs(v, bare_v)) if ids == bare_ids else None
                if "logits" in r:
                    ref_delta = max(ref_delta, max_abs(ref(r["ids"]), r["logits"]))
                records.append({"sample_id": sample["id"], "condition": c["name"], "ids": r["ids"],
                                "nll_mean": r["nll_mean"], "nll_sum": r["nll_sum"], "answer_tokens": r["answer_tokens"],
                                "token_logprobs": r["token_logprobs"], "segments": r["segments"],
                                "document_kv_max_abs_delta": delta, "attention": r.get("attention")})
            by = {rec["condition"]: rec for rec in records if rec["sample_id"] == sample["id"]}
            assert by["full_empty"]["token_logprobs"] == by["bare"]["token_logprobs"]
            assert by["suffix"]["document_kv_max_abs_delta"] == 0.0
            assert by["trunc"]["document_kv_max_abs_delta"] < 1e-5  # layer 0 (sliding) keys back at bare positions
            assert by["trunc_interleaved"]["document_kv_max_abs_delta"] > 1e-2
    assert ref_delta < 1e-4, f"independent forward differs from HF by {ref_delta}"
    with torch.no_grad():  # the window bites
        m_nw = variant(model, Gemma3ForCausalLM, no_window)
        ids = torch.tensor([records[0]["ids"]])
        assert max_abs(m_nw(input_ids=ids).logits, model(input_ids=ids).logits) > 1e-3
    fixture = {
        "model": name, "architecture": "Gemma3ForCausalLM", "generator": GENERATOR, "torch": torch.__version__,
        "transformers": __import__("transformers").__version__, "dtype": "float32", "seed": SEED,
        "layer_types": config.layer_types,
        "inv_freq": rope_tables(model.model.rotary_emb, config.layer_types),
        "checks": {"independent_forward_max_abs_delta": ref_delta, "attn_logit_softcapping_ignored_by_hf": True},
        "samples": SAMPLES, "conditions": {s["id"]: lf.conditions_for(s) for s in SAMPLES}, "expected": records,
    }
    write_json(os.path.join(out, "expected.json"), fixture)
    report(name, out, records)
    print(f"    independent forward max |d| {ref_delta:.2e}")


def report(name, out, records):
    spread = {}
    for rec in records:
        spread.setdefault(rec["sample_id"], []).append(f'{rec["condition"]}={rec["nll_mean"]:.3f}')
    print(f"{name}: {dir_size(out) / 1024:.0f} KiB, files {sorted(os.listdir(out))}")
    for sid, v in spread.items():
        print("   ", sid, " ".join(v))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                  "scorers/src/test/resources/fixtures"))
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    tok = build_tokenizer()
    assert tok.get_vocab_size() == VOCAB, tok.get_vocab_size()
    root = os.path.abspath(args.out)
    build_t5gemma2(root, tok)
    build_gemma3(root, tok)


if __name__ == "__main__":
    main()
