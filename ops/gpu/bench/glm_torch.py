"""ChatGLM-6B (first version) forward in batched PyTorch: the math of ops/reference/glm_reference.py (NumPy
float64, one sequence) ported to padded batches on any device in the model dtype, with SDPA and explicit
prefix-LM masks and 2D positions. Used by glm_torch_bench.py (the Python peer of dkv's GLM scorer) and by
make_glm_model.py --check-layers (activation magnitudes of the random weights).

Conventions (DESIGN.md "Prefix-LM layout"; glm_reference.py for the facts): LayerNorm with bias; fused QKV
per head ([q|k|v] inside each head); 2D RoPE (first half of each head by the position channel, second half
by the block channel, half-split pairing inside each half, fp16-rounded inv_freq, angles in float32, cos/sin
applied in the activations' dtype as the published model does); scores q.k/sqrt(d), masked keys excluded
(SDPA with a boolean mask: exactly 0 after the softmax, as the published -10000 fill); residual = the
*normed* input times alpha = sqrt(56); GeLU tanh; final LayerNorm; the checkpoint's own lm_head. Weights
are cast to the model dtype as dkv's loader does (LayerNorm statistics in float32 inside torch's kernel).
"""
import json
import math
import os
import sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "reference"))
import glm_reference as ref  # noqa: E402  (constants and inv_freq only; NumPy)

ALPHA = ref.ALPHA


@dataclass
class Layer:
    ln1_w: torch.Tensor
    ln1_b: torch.Tensor
    qkv: torch.Tensor
    qkv_b: torch.Tensor
    dense: torch.Tensor
    dense_b: torch.Tensor
    ln2_w: torch.Tensor
    ln2_b: torch.Tensor
    up: torch.Tensor
    up_b: torch.Tensor
    down: torch.Tensor
    down_b: torch.Tensor


LAYER_TENSORS = {
    "ln1_w": "input_layernorm.weight", "ln1_b": "input_layernorm.bias",
    "qkv": "attention.query_key_value.weight", "qkv_b": "attention.query_key_value.bias",
    "dense": "attention.dense.weight", "dense_b": "attention.dense.bias",
    "ln2_w": "post_attention_layernorm.weight", "ln2_b": "post_attention_layernorm.bias",
    "up": "mlp.dense_h_to_4h.weight", "up_b": "mlp.dense_h_to_4h.bias",
    "down": "mlp.dense_4h_to_h.weight", "down_b": "mlp.dense_4h_to_h.bias",
}


def layer_from(weights, prefix, device, dtype):
    return Layer(**{k: weights[prefix + v].to(device=device, dtype=dtype) for k, v in LAYER_TENSORS.items()})


def read_snapshot(snapshot_dir, device, dtype, mmap=True):
    """config.json and every tensor of the .bin shards (pytorch_model.bin.index.json), moved to device/dtype."""
    with open(os.path.join(snapshot_dir, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(snapshot_dir, "pytorch_model.bin.index.json")) as f:
        index = json.load(f)
    weights = {}
    for shard in sorted(set(index["weight_map"].values())):
        state = torch.load(os.path.join(snapshot_dir, shard), map_location="cpu", weights_only=True, mmap=mmap)
        for name, t in state.items():
            if name.endswith("rotary_emb.inv_freq"):
                continue  # the model recomputes it (and rounds it to fp16), as the published code does
            weights[name] = t.to(device=device, dtype=dtype)
        del state
    return config, weights


class GlmTorch:
    def __init__(self, config, weights, device, dtype):
        self.config = config
        self.device, self.dtype = torch.device(device), dtype
        self.hidden = config["hidden_size"]
        self.heads = config["num_attention_heads"]
        self.head_dim = self.hidden // self.heads
        self.eps = config["layernorm_epsilon"]
        self.vocab = config["vocab_size"]
        w = {n: weights[n].to(device=device, dtype=dtype) for n in (
            "transformer.word_embeddings.weight", "transformer.final_layernorm.weight",
            "transformer.final_layernorm.bias", "lm_head.weight")}
        self.embed = w["transformer.word_embeddings.weight"]
        self.layers = [layer_from(weights, f"transformer.layers.{i}.", device, dtype)
                       for i in range(config["num_layers"])]
        self.final_w = w["transformer.final_layernorm.weight"]
        self.final_b = w["transformer.final_layernorm.bias"]
        self.lm_head = w["lm_head.weight"]
        self.inv_freq = torch.tensor(ref.inv_freq_fp16(self.head_dim // 2), dtype=torch.float32, device=self.device)

    @classmethod
    def load(cls, snapshot_dir, device, dtype):
        config, weights = read_snapshot(snapshot_dir, device, dtype)
        return cls(config, weights, device, dtype)

    def params(self):
        """The model's parameters with lm_head counted once (tied to the embeddings in the published model)."""
        n = self.embed.numel() + self.final_w.numel() + self.final_b.numel()
        return n + sum(t.numel() for layer in self.layers for t in vars(layer).values())

    # ------------------------------------------------------------------ pieces

    def layer_norm(self, x, w, b):
        return F.layer_norm(x, (self.hidden,), w, b, self.eps)

    def rope_tables(self, position, block):
        """cos, sin [B, 1, T, head_dim] in the model dtype for 2D positions [B, T] (long)."""
        def half(p):
            angles = p.to(torch.float32)[..., None] * self.inv_freq  # [B, T, d/4]
            return torch.cat([angles, angles], dim=-1)
        emb = torch.cat([half(position), half(block)], dim=-1)[:, None]
        return emb.cos().to(self.dtype), emb.sin().to(self.dtype)

    @staticmethod
    def rotate_2d(x):
        """rotate_half inside each half of the last dim (the two RoPE channels)."""
        q = x.shape[-1] // 4
        x1, x2, x3, x4 = x.split(q, dim=-1)
        return torch.cat([-x2, x1, -x4, x3], dim=-1)

    def rotate_position_channel(self, k, delta):
        """Keys [B, H, L, d] with the position-channel half rotated by per-entry deltas [B, L] (float32 math,
        as dkv's cache surgery; delta 0 is an exact identity)."""
        half = self.head_dim // 2
        angles = delta.to(torch.float32)[:, None, :, None] * self.inv_freq  # [B, 1, L, d/4]
        emb = torch.cat([angles, angles], dim=-1)
        kp = k[..., :half].float()
        q = half // 2
        rotated = torch.cat([-kp[..., q:], kp[..., :q]], dim=-1)
        kp = kp * emb.cos() + rotated * emb.sin()
        return torch.cat([kp.to(k.dtype), k[..., half:]], dim=-1)

    def block(self, layer, x, cos, sin, mask, past_k=None, past_v=None, stats=None):
        """One GLMBlock. x [B, T, hidden]; mask bool [B, 1, T, past + T] (True = may attend).
        Returns (output, keys [B, H, T, d] after RoPE, values [B, H, T, d]) — the new entries only.
        With a dict `stats`: records the largest |score| (visible keys), |attention output|, |MLP pre-activation|."""
        b, t, _ = x.shape
        a_in = self.layer_norm(x, layer.ln1_w, layer.ln1_b)
        mixed = F.linear(a_in, layer.qkv, layer.qkv_b).view(b, t, self.heads, 3 * self.head_dim)
        q, k, v = (m.transpose(1, 2) for m in mixed.split(self.head_dim, dim=-1))
        q = q * cos + self.rotate_2d(q) * sin
        k = k * cos + self.rotate_2d(k) * sin
        keys = k if past_k is None else torch.cat([past_k, k], dim=2)
        values = v if past_v is None else torch.cat([past_v, v], dim=2)
        ctx = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, scale=1.0 / math.sqrt(self.head_dim))
        out = F.linear(ctx.transpose(1, 2).reshape(b, t, self.hidden), layer.dense, layer.dense_b)
        h = a_in * ALPHA + out
        m_in = self.layer_norm(h, layer.ln2_w, layer.ln2_b)
        pre = F.linear(m_in, layer.up, layer.up_b)
        mlp = F.linear(F.gelu(pre, approximate="tanh"), layer.down, layer.down_b)
        if stats is not None:
            scores = (q.float() @ keys.float().transpose(-1, -2)) / math.sqrt(self.head_dim)
            stats.update(max_abs_score=scores.masked_fill(~mask, 0).abs().max().item(),
                         max_abs_attention_out=out.abs().max().item(), max_abs_mlp_preact=pre.abs().max().item(),
                         max_abs_mlp_out=mlp.abs().max().item())
        return m_in * ALPHA + mlp, k, v

    def logprobs(self, hidden, targets):
        """log p(target) per row of pre-final-LayerNorm hidden states [R, hidden]; log-softmax in float32 over
        the whole config vocabulary."""
        logits = F.linear(self.layer_norm(hidden, self.final_w, self.final_b), self.lm_head).float()
        return torch.log_softmax(logits, dim=-1).gather(1, targets[:, None])[:, 0]


# ---------------------------------------------------------------------- masks and positions (batched)

def prefill_geometry(n_texts, width, device):
    """For prompts TEXT·[gMASK]·<sop> with n_text[b] TEXT tokens, right-padded to `width` tokens: 2D
    positions [B, width] and the prefix-LM mask [B, 1, width, width]. Padding rows see key 0 (never read)."""
    n = torch.as_tensor(n_texts, device=device)[:, None]  # [B, 1]
    idx = torch.arange(width, device=device)[None, :]  # [1, W]
    position = torch.where(idx <= n, idx, n)  # TEXT and [gMASK]: their index; <sop> (and padding): n
    block = (idx == n + 1).long()  # <sop>: 1
    keys, queries = idx[:, None, :], idx[:, :, None]  # [1, 1, W], [1, W, 1]
    n3 = n[:, :, None]
    visible = (keys <= n3) | ((queries == n3 + 1) & (keys == n3 + 1))  # [B, W, W]
    visible = visible | ((queries > n3 + 1) & (keys == 0))  # padding rows: something to attend to
    return position, block, visible[:, None]


def continuation_geometry(past_lens, cont_lens, gmask_index, past_width, width, device):
    """Continuation chunks QUERY·ANSWER of cont_lens[b] tokens after a (truncated) cache of past_lens[b] entries,
    padded to past_width and width: positions (all at the cache's [gMASK] index; blocks 2, 3, ...) and the mask
    [B, 1, width, past_width + width]: the whole past, causal inside the chunk."""
    p = torch.as_tensor(past_lens, device=device)[:, None, None]
    g = torch.as_tensor(gmask_index, device=device)[:, None]
    idx = torch.arange(width, device=device)
    position = g.expand(-1, width)
    block = (idx + 2)[None, :].expand(len(past_lens), -1)
    past_visible = torch.arange(past_width, device=device)[None, None, :] < p  # [B, 1, Pw]
    chunk_visible = idx[None, None, :] <= idx[None, :, None]  # [1, W, W]
    visible = torch.cat([past_visible.expand(-1, width, -1), chunk_visible.expand(len(past_lens), -1, -1)], dim=-1)
    return position, block, visible[:, None]
