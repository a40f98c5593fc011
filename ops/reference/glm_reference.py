#!/usr/bin/env python3
"""Independent float64 reference for the ChatGLM-6B (THUDM/chatglm-6b, first version) prefix-LM family.

Written from the published architecture (modeling_chatglm.py / tokenization_chatglm.py of THUDM/chatglm-6b,
read for facts only); no code is shared with it or with the Java side. NumPy float64 throughout, computed
from the values stored in the snapshot (fp16 matrices, fp32 LayerNorm parameters), so it is what a loader
reads, evaluated without rounding.

Facts this file relies on (see ops/reference/README.md, "GLM fixtures", for where each was read):
- LayerNorm with bias (eps from config), GeLU in its tanh form, fused QKV laid out per head ([q|k|v] per head).
- Residual: the *normed* input times alpha = sqrt(2 * 28). GLMBlock's `num_layers` defaults to 28 and
  ChatGLMModel never passes config.num_layers, so alpha is sqrt(56) whatever the layer count.
- Scores q.k / sqrt(head_dim); masked scores filled with -10000 (then multiplied by the layer coefficient,
  which cancels for unmasked scores); softmax in float32 there, float64 here.
- 2D RoPE: the first half of each head's dims rotates by the position channel, the second half by the block
  channel; `rotate_half` pairing (j, j + d/4) inside each half; inv_freq computed in float32 and rounded to
  fp16 (`inv_freq.half()`); angles here in float64.
- Separate `lm_head.weight` tensor in the checkpoint (HF ties it to the word embeddings; the values are the
  same matrix); final LayerNorm before it; logits over the whole (padded) config vocab.
- Prefix-LM layout (DESIGN.md "Prefix-LM layout"): TEXT . [gMASK] . <sop> . QUERY? . ANSWER.

Cache layout used here: per layer a pair (K, V), each [tokens, heads, head_dim], K after RoPE (as the
published model's `present`).
"""
import json
import math
import os

import numpy as np

# GLMBlock(..., num_layers=28): ChatGLMModel.get_layer does not pass config.num_layers, so the residual
# scale is this constant for every ChatGLM-6B-format model, whatever its config says.
ALPHA = math.sqrt(2 * 28)
ROPE_BASE = 10000.0
MASKED_SCORE = -10000.0  # the published masked_fill value (before the layer coefficient)
LEGACY_NUM_IMAGE_TOKENS = 20000  # ChatGLMTokenizer's default when tokenizer_config.json has no num_image_tokens


# --------------------------------------------------------------------------------------------- snapshot

def load_weights(snapshot_dir):
    """All tensors of a sharded `pytorch_model.bin.index.json` snapshot, as float64 NumPy arrays."""
    import torch  # only to unpickle the .bin shards
    with open(os.path.join(snapshot_dir, "pytorch_model.bin.index.json")) as f:
        index = json.load(f)
    weights, dtypes = {}, {}
    for shard in sorted(set(index["weight_map"].values())):
        state = torch.load(os.path.join(snapshot_dir, shard), map_location="cpu", weights_only=True)
        for name, t in state.items():
            assert index["weight_map"][name] == shard, (name, shard)
            dtypes[name] = str(t.dtype).replace("torch.", "")
            weights[name] = t.to(torch.float64).numpy()
    assert set(weights) == set(index["weight_map"]), "index and shards disagree"
    return weights, dtypes


class GlmModel:
    """The ChatGLM-6B forward pass with explicit 2D positions, an explicit mask and an explicit past."""

    def __init__(self, config, weights):
        self.cfg = config
        self.w = weights
        self.hidden = config["hidden_size"]
        self.heads = config["num_attention_heads"]
        self.head_dim = self.hidden // self.heads
        self.layers = config["num_layers"]
        self.eps = config["layernorm_epsilon"]
        self.inv_freq = inv_freq_fp16(self.head_dim // 2)
        # HF ties lm_head to the word embeddings; the checkpoint stores both and they must agree.
        assert np.array_equal(weights["lm_head.weight"], weights["transformer.word_embeddings.weight"])

    # ---- one layer at a time, in data-flow order

    def qkv(self, x, layer):
        """Fused projection, then the per-head split: row block h*3d..h*3d+3d is [q_h | k_h | v_h]."""
        p = f"transformer.layers.{layer}.attention.query_key_value."
        mixed = x @ self.w[p + "weight"].T + self.w[p + "bias"]
        mixed = mixed.reshape(x.shape[0], self.heads, 3 * self.head_dim)
        d = self.head_dim
        return mixed[..., :d], mixed[..., d:2 * d], mixed[..., 2 * d:]

    def attention(self, q, k_all, v_all, visible, layer):
        """visible[i, j]: query i may attend to key j. Masked scores get -10000 x (layer + 1), as the
        published code fills -10000 on scores divided by the layer coefficient and multiplies back."""
        scores = np.einsum("tnd,snd->nts", q, k_all) / math.sqrt(self.head_dim)
        scores = np.where(visible[None, :, :], scores, MASKED_SCORE * (layer + 1))
        scores = scores - scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=-1, keepdims=True)
        return np.einsum("nts,snd->tnd", probs, v_all)

    def block(self, x, layer, position, block_position, visible, past):
        p = f"transformer.layers.{layer}."
        attn_in = layer_norm(x, self.w[p + "input_layernorm.weight"], self.w[p + "input_layernorm.bias"], self.eps)
        q, k, v = self.qkv(attn_in, layer)
        q = rope_2d(q, position, block_position, self.inv_freq)
        k = rope_2d(k, position, block_position, self.inv_freq)
        if past is not None:
            k = np.concatenate([past[0], k], axis=0)
            v = np.concatenate([past[1], v], axis=0)
        ctx = self.attention(q, k, v, visible, layer).reshape(x.shape[0], self.hidden)
        attn_out = ctx @ self.w[p + "attention.dense.weight"].T + self.w[p + "attention.dense.bias"]
        h = attn_in * ALPHA + attn_out  # the normed input is the residual, scaled by alpha
        mlp_in = layer_norm(h, self.w[p + "post_attention_layernorm.weight"],
                            self.w[p + "post_attention_layernorm.bias"], self.eps)
        inner = gelu_tanh(mlp_in @ self.w[p + "mlp.dense_h_to_4h.weight"].T + self.w[p + "mlp.dense_h_to_4h.bias"])
        mlp_out = inner @ self.w[p + "mlp.dense_4h_to_h.weight"].T + self.w[p + "mlp.dense_4h_to_h.bias"]
        return mlp_in * ALPHA + mlp_out, (k, v)

    def forward(self, ids, position, block_position, visible, past=None):
        """ids: new tokens; position/block_position: their 2D positions; visible: [new, past + new] bool.
        Returns (logits [new, vocab], cache = past + new entries per layer)."""
        ids = np.asarray(ids)
        past_len = 0 if past is None else past[0][0].shape[0]
        assert visible.shape == (len(ids), past_len + len(ids)), visible.shape
        x = self.w["transformer.word_embeddings.weight"][ids]
        cache = []
        for layer in range(self.layers):
            x, kv = self.block(x, layer, np.asarray(position), np.asarray(block_position), visible,
                               None if past is None else past[layer])
            cache.append(kv)
        x = layer_norm(x, self.w["transformer.final_layernorm.weight"], self.w["transformer.final_layernorm.bias"],
                       self.eps)
        return x @ self.w["lm_head.weight"].T, cache


def layer_norm(x, weight, bias, eps):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # biased variance, as torch.nn.LayerNorm
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * x * (1.0 + 0.044715 * x * x)))


# --------------------------------------------------------------------------------------------- 2D RoPE

def inv_freq_fp16(rotary_dim):
    """1 / 10000^(2j/rotary_dim) computed in float32 (torch's arange(...).float() / dim), rounded to fp16 as
    the model's RotaryEmbedding does (`inv_freq.half()`), returned as float64."""
    exponent = np.arange(0, rotary_dim, 2, dtype=np.float32) / np.float32(rotary_dim)
    inv = np.float32(1.0) / (np.float32(ROPE_BASE) ** exponent)
    return inv.astype(np.float32).astype(np.float16).astype(np.float64)


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def rope(x, positions, inv_freq):
    """Half-split rotation of x [tokens, heads, d] by per-token positions; angles in float64."""
    angles = np.asarray(positions, dtype=np.float64)[:, None] * inv_freq[None, :]
    emb = np.concatenate([angles, angles], axis=-1)[:, None, :]
    return x * np.cos(emb) + rotate_half(x) * np.sin(emb)


def rope_2d(x, position, block_position, inv_freq):
    """First half of each head's dims: position channel; second half: block channel."""
    half = x.shape[-1] // 2
    return np.concatenate([rope(x[..., :half], position, inv_freq),
                           rope(x[..., half:], block_position, inv_freq)], axis=-1)


# --------------------------------------------------------------------------------------------- tokenizer

def preprocess(text, max_blank_length=80):
    """SPTokenizer._preprocess: \\n -> <n>, then tab -> <|tab|>, then runs of max_blank_length down to 2
    spaces -> <|blank_N|> (longest first, so 85 spaces become <|blank_80|><|blank_5|>)."""
    text = text.replace("\n", "<n>")
    text = text.replace("\t", "<|tab|>")
    for n in range(max_blank_length, 1, -1):
        text = text.replace(" " * n, f"<|blank_{n}|>")
    return text


class GlmTokenizer:
    """ChatGLM-6B's tokenizer: text preprocessing, SentencePiece, the image-token id offset, and
    `[gMASK] <sop>` appended to a prompt (build_inputs_with_special_tokens)."""

    def __init__(self, snapshot_dir, max_blank_length=80, num_image_tokens=None):
        import sentencepiece as spm
        with open(os.path.join(snapshot_dir, "tokenizer_config.json")) as f:
            tc = json.load(f)
        self.sp = spm.SentencePieceProcessor(model_file=os.path.join(snapshot_dir, "ice_text.model"))
        # ids = SentencePiece id + num_image_tokens (0 in the current release, 20000 by default)
        self.num_image_tokens = tc.get("num_image_tokens", LEGACY_NUM_IMAGE_TOKENS)
        if num_image_tokens is not None:
            self.num_image_tokens = num_image_tokens
        self.max_blank_length = max_blank_length
        self.gmask_id = self.piece_id(tc["gmask_token"])
        self.mask_id = self.piece_id(tc["mask_token"])
        self.sop_id = self.piece_id(tc["bos_token"])
        self.eop_id = self.piece_id(tc["eos_token"])
        self.pad_id = self.piece_id(tc["pad_token"])

    def piece_id(self, piece):
        sp_id = self.sp.piece_to_id(piece)
        assert self.sp.id_to_piece(sp_id) == piece, f"{piece} is not in the SentencePiece model"
        return sp_id + self.num_image_tokens

    def preprocess(self, text):
        return preprocess(text, self.max_blank_length)

    def encode_text(self, text):
        """Ids of one SentencePiece text (the model's dummy prefix included), without special tokens."""
        return [i + self.num_image_tokens for i in self.sp.encode(self.preprocess(text))]

    def pieces(self, text):
        return self.sp.encode(self.preprocess(text), out_type=str)

    def encode_prompt(self, text):
        return self.encode_text(text) + [self.gmask_id, self.sop_id]


# --------------------------------------------------------------------------------------------- layout

def segment_texts(c, sample):
    """PREFIX . DOC . SUFFIX (the bidirectional TEXT) and QUERY . ANSWER (the continuation)."""
    sur, sep = c["surrogate"] or "", c["separator"]
    placement = c["placement"]
    prefix = sur + sep if placement in ("PREFIX_FULL", "PREFIX_TRUNCATED") else ""
    suffix = sep + sur if placement == "SUFFIX" else ""
    doc = c["document_template"].replace("{passage}", sample["passage"])
    query = (c["query_free_template"] if c["query_free"] else c["query_template"]).replace("{query}", sample["query"])
    answer = c["answer_template"].replace("{answer}", sample["answer"])
    return [("prefix", prefix), ("document", doc), ("suffix", suffix)], [("query", query), ("answer", answer)]


def grow(tok, segments):
    """Ids of the concatenated text and each segment's length by growth (never tokenized in isolation)."""
    lengths, acc, prev = {}, "", 0
    for name, text in segments:
        acc += text
        n = len(tok.encode_text(acc))
        lengths[name] = n - prev
        prev = n
    ids = tok.encode_text(acc)
    assert len(ids) == prev
    return ids, lengths


def layout(tok, c, sample):
    text_segs, cont_segs = segment_texts(c, sample)
    text_ids, lengths = grow(tok, text_segs)
    cont_ids, cont_lengths = grow(tok, cont_segs)  # a new SentencePiece text: starts with the dummy prefix
    # "special" is the contract's SPECIAL segment (the tokens the tokenizer appends after TEXT), the two together
    lengths.update({"gmask": 1, "sop": 1, "special": 2, **cont_lengths})
    return text_ids + [tok.gmask_id, tok.sop_id], cont_ids, lengths


def prefill_positions(n_text):
    """TEXT and [gMASK] at 0..N (block 0); <sop> at the [gMASK] index N with block 1."""
    position = list(range(n_text + 1)) + [n_text]
    block = [0] * (n_text + 1) + [1]
    return position, block


def continuation_positions(gmask_index, n):
    """Every continuation token sits at the [gMASK] index; blocks continue 2, 3, ... after <sop>'s 1."""
    return [gmask_index] * n, list(range(2, n + 2))


def prefill_visible(n_text):
    """Bidirectional among TEXT and [gMASK]; <sop> sees everything including itself."""
    t = n_text + 2
    vis = np.zeros((t, t), dtype=bool)
    vis[:, :n_text + 1] = True
    vis[n_text + 1, n_text + 1] = True
    return vis


def chunk_visible(past_len, n):
    """A continuation chunk sees the whole past and is causal inside itself."""
    return np.concatenate([np.ones((n, past_len), dtype=bool), np.tril(np.ones((n, n), dtype=bool))], axis=1)


# --------------------------------------------------------------------------------------------- placements

def truncate_cache(cache, drop, correction, inv_freq):
    """Drop the first `drop` entries (the PREFIX); with HALF_SPLIT rotate the position-channel half of the
    kept keys by -drop. The block-channel half and the values are untouched."""
    out = []
    for k, v in cache:
        k, v = k[drop:].copy(), v[drop:].copy()
        if correction == "HALF_SPLIT" and drop:
            half = k.shape[-1] // 2
            k[..., :half] = rope(k[..., :half], [-drop] * k.shape[0], inv_freq)
        elif correction not in ("HALF_SPLIT", "NONE"):
            raise ValueError(f"rope_correction {correction} is not defined for the GLM family")
        out.append((k, v))
    return out


def log_softmax_rows(logits):
    m = logits.max(axis=-1, keepdims=True)
    return logits - m - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))


def score(model, tok, c, sample):
    """One condition, the straightforward way: prefill TEXT.[gMASK].<sop>, optional cache surgery, then
    the continuation QUERY.ANSWER as one causal chunk attending to the cache."""
    prompt_ids, cont_ids, L = layout(tok, c, sample)
    n_text = len(prompt_ids) - 2
    position, block = prefill_positions(n_text)
    prefill_logits, cache = model.forward(prompt_ids, position, block, prefill_visible(n_text))
    cache_position = list(position)
    drop = 0
    if c["placement"] == "PREFIX_TRUNCATED":
        drop = L["prefix"]
        cache = truncate_cache(cache, drop, c["rope_correction"], model.inv_freq)
        shift = drop if c["rope_correction"] == "HALF_SPLIT" else 0
        cache_position = [p - shift for p in position[drop:]]
    elif c["placement"] not in ("NONE", "SUFFIX", "PREFIX_FULL"):
        raise ValueError(c["placement"])
    gmask_index = n_text - drop  # the (truncated) cache's [gMASK] index, whatever the correction
    cont_position, cont_block = continuation_positions(gmask_index, len(cont_ids))
    past_len = cache[0][0].shape[0]
    cont_logits, _ = model.forward(cont_ids, cont_position, cont_block, chunk_visible(past_len, len(cont_ids)),
                                   past=cache)
    # <sop>'s logits (from the prefill, which saw the prefix) predict the first continuation token.
    rows = np.concatenate([prefill_logits[-1:], cont_logits[:-1]], axis=0)
    lps = log_softmax_rows(rows)[np.arange(len(cont_ids)), cont_ids]
    answer_lps = lps[len(cont_ids) - L["answer"]:]
    doc_start = L["prefix"] - drop
    doc = slice(doc_start, doc_start + L["document"])
    return {
        "prompt_ids": prompt_ids, "continuation_ids": cont_ids, "segments": L,
        "prefill_positions": [position, block],
        "cache_positions": [cache_position, block[drop:]],
        "continuation_positions": [cont_position, cont_block],
        "continuation_logprobs": lps.tolist(), "token_logprobs": answer_lps.tolist(),
        "nll_sum": float(-answer_lps.sum()), "nll_mean": float(-answer_lps.mean()),
        "answer_tokens": int(L["answer"]),
        "doc_ids": prompt_ids[L["prefix"]:L["prefix"] + L["document"]],
        "doc_cache": [(k[doc], v[doc]) for k, v in cache],
        "cache": cache, "prefill_logits": prefill_logits, "cont_logits": cont_logits,
    }
