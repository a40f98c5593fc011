#!/usr/bin/env python3
"""Which tensor layouts let the decoder's elementwise ops (RoPE, SwiGLU) run at memory speed?

dkv's Llama forward runs q/k/v and gate/up as fused GEMMs and applies RoPE and SwiGLU to strided views of their
outputs, with RoPE tables broadcast over heads. libtorch's elementwise kernels vectorize only when every operand
is contiguous, so layouts matter. This times, on the decoder bench's shapes (Mistral-7B: 32 query + 8 kv heads of
128, intermediate 14336) at a prefill's token count, each op chain in bf16, in the layouts dkv could use, and
prints microseconds and the bytes per second each moves (lower bound: every operand read once, output written once).
All variants compute the same values (checked: max |difference| to the first variant).

  python elementwise_check.py [--batch 96 --width 111] [--json out.json]
"""
import argparse
import json

import torch
import torch.nn.functional as F

from cuda_timing import timed


REPEAT = 30  # timed calls per variant


def rope(x, cos, sin):
    """HF's apply_rotary_pos_emb for one tensor: x·cos + rotate_half(x)·sin."""
    h = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., h:], x[..., :h]), dim=-1) * sin


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=96)
    p.add_argument("--width", type=int, default=111)
    p.add_argument("--json")
    args = p.parse_args()
    torch.manual_seed(0)
    b, n, heads, kv, d, hidden, inter = args.batch, args.width, 32, 8, 128, 4096, 14336
    dev, bf = "cuda", torch.bfloat16
    tokens = b * n
    qk_heads = heads + kv
    rows = []

    def report(name, seconds, nbytes, ref, out):
        diff = (out.float() - ref.float()).abs().max().item()
        row = {"check": name, "us": round(seconds * 1e6, 1), "tb_per_s": round(nbytes / seconds / 1e12, 2),
               "max_abs_diff_to_first": diff}
        rows.append(row)
        print(json.dumps(row), flush=True)

    # --- RoPE over q and k heads together ---
    fused = torch.randn(b, n, (heads + 2 * kv) * d, device=dev, dtype=bf)  # one q/k/v GEMM's output
    angles = torch.rand(b, n, d, device=dev) * 6
    cos, sin = angles.cos().to(bf), angles.sin().to(bf)
    x_bytes = tokens * qk_heads * d * 2
    nbytes = 2 * x_bytes  # read x, write the result

    strided = fused[..., :qk_heads * d].reshape(b, n, qk_heads, d).transpose(1, 2)  # dkv today
    ref = rope(strided, cos[:, None], sin[:, None])
    report("rope: strided view of the fused q/k/v output, tables [B,1,n,D]",
           timed(lambda: rope(strided, cos[:, None], sin[:, None]), REPEAT), nbytes, ref, ref)

    qk = fused[..., :qk_heads * d].contiguous()  # a q/k GEMM of its own
    heads_first = qk.reshape(b, n, qk_heads, d).transpose(1, 2)
    out = rope(heads_first, cos[:, None], sin[:, None])
    report("rope: contiguous q/k GEMM output viewed [B,H,n,D], tables [B,1,n,D]",
           timed(lambda: rope(heads_first, cos[:, None], sin[:, None]), REPEAT), nbytes, ref, out)

    tokens_first = qk.reshape(b, n, qk_heads, d)
    out = rope(tokens_first, cos[:, :, None], sin[:, :, None]).transpose(1, 2)
    report("rope: contiguous [B,n,H,D], tables [B,n,1,D]",
           timed(lambda: rope(tokens_first, cos[:, :, None], sin[:, :, None]), REPEAT), nbytes, ref, out)

    cos_full = cos[:, :, None].expand(b, n, qk_heads, d).contiguous()
    sin_full = sin[:, :, None].expand(b, n, qk_heads, d).contiguous()
    out = rope(tokens_first, cos_full, sin_full).transpose(1, 2)
    report("rope: contiguous [B,n,H,D], tables materialised [B,n,H,D] (per forward)",
           timed(lambda: rope(tokens_first, cos_full, sin_full), REPEAT), nbytes, ref, out)

    # --- SwiGLU ---
    gate_up = torch.randn(tokens, 2 * inter, device=dev, dtype=bf)  # one gate/up GEMM's output
    half_bytes = tokens * inter * 2
    nbytes = 3 * half_bytes  # read gate and up, write the product
    ref = F.silu(gate_up[:, :inter]) * gate_up[:, inter:]
    report("swiglu: strided halves of the fused gate/up output",
           timed(lambda: F.silu(gate_up[:, :inter]) * gate_up[:, inter:], REPEAT), nbytes, ref, ref)
    gate, up = gate_up[:, :inter].contiguous(), gate_up[:, inter:].contiguous()  # two GEMMs
    out = F.silu(gate) * up
    report("swiglu: contiguous gate and up (two GEMMs)", timed(lambda: F.silu(gate) * up, REPEAT), nbytes, ref, out)

    # --- what the split costs on the GEMM side ---
    x = torch.randn(tokens, hidden, device=dev, dtype=bf)
    w_gu = torch.randn(2 * inter, hidden, device=dev, dtype=bf) * 0.02
    w_qkv = torch.randn((heads + 2 * kv) * d, hidden, device=dev, dtype=bf) * 0.02
    for name, fn in [("gemm: fused gate/up", lambda: F.linear(x, w_gu)),
                     ("gemm: gate and up apart", lambda: (F.linear(x, w_gu[:inter]), F.linear(x, w_gu[inter:]))),
                     ("gemm: fused q/k/v", lambda: F.linear(x, w_qkv)),
                     ("gemm: q/k and v apart", lambda: (F.linear(x, w_qkv[:qk_heads * d]), F.linear(x, w_qkv[qk_heads * d:])))]:
        seconds = timed(fn, REPEAT)
        row = {"check": name, "us": round(seconds * 1e6, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    # --- the whole SwiGLU MLP, three ways (same values: each output element is the same dot products) ---
    w_down = torch.randn(hidden, inter, device=dev, dtype=bf) * 0.02
    w_gate, w_up = w_gu[:inter].contiguous(), w_gu[inter:].contiguous()

    def fused_strided():
        both = F.linear(x, w_gu)
        return F.linear(F.silu(both[:, :inter]) * both[:, inter:], w_down)

    def split():
        return F.linear(F.silu(F.linear(x, w_gate)) * F.linear(x, w_up), w_down)

    def transposed():
        # one GEMM whose output is [2·inter, tokens]: gate and up are contiguous row blocks of it
        both_t = torch.mm(w_gu, x.t())
        return F.linear((F.silu(both_t[:inter]) * both_t[inter:]).t(), w_down)

    ref = fused_strided()
    for name, fn in [("mlp: fused GEMM, strided halves", fused_strided), ("mlp: gate and up GEMMs", split),
                     ("mlp: fused GEMM, transposed output", transposed)]:
        out = fn()
        row = {"check": name, "us": round(timed(fn, REPEAT) * 1e6, 1),
               "max_abs_diff_to_first": (out.float() - ref.float()).abs().max().item()}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(torch.cuda.get_device_name(), torch.__version__, f"tokens {tokens}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
