#!/usr/bin/env python3
"""Gemma's (1 + w) RMSNorm on 16-bit activations, three ways, on one GPU: exactness against HF's own module and the
time per call (CUDA events, median of 50 after 10 warm-ups).

  hf        Gemma3RMSNorm.forward as HF writes it: x.float() normalised, times (1 + w).float(), cast back (eager ops)
  cast      what dkv's Gemma norm runs today: rms_norm(x.float(), [d], (1 + w) float32) then .to(x.dtype)
  mixed     rms_norm(x, [d], (1 + w) float32): a 16-bit input with a float32 weight, no casts around it
  same      rms_norm(x, [d], (1 + w).to(x.dtype)): the weight rounded to 16 bits first (changes the results)

The question it answers: does libtorch's fused kernel take the mixed call, with the same rounding as HF (compute in
float32, one rounding at the end)? Prints one JSON line per (shape, way).

  python norm_check.py [--device cuda:0] [--dtype bfloat16]
"""
import argparse
import json

import torch


def hf_norm(x, w, eps):
    xf = x.float()
    out = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return (out * (1.0 + w.float())).type_as(x)


def timed(fn, reps=50, warm=10):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) * 1000.0)
    times.sort()
    return times[len(times) // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--dtype", default="bfloat16")
    a = p.parse_args()
    dtype = getattr(torch, a.dtype)
    g = torch.Generator(device="cpu").manual_seed(0)
    eps = 1e-6
    # T5Gemma-2-4B-4B / Gemma-3-4B: hidden 2560, head_dim 256 (q/k norms over [tokens, heads, 256])
    for name, shape in [("hidden", (16384, 2560)), ("heads", (16384, 8, 256))]:
        d = shape[-1]
        x = (torch.randn(*shape, generator=g) * 3).to(a.device, dtype)
        w = (torch.randn(d, generator=g) * 0.05).to(a.device, torch.float32)
        one_plus = (1.0 + w).float()
        ref = hf_norm(x, w, eps)
        ways = {
            "hf": lambda: hf_norm(x, w, eps),
            "cast": lambda: torch.ops.aten.rms_norm(x.float(), [d], one_plus, eps).to(dtype),
            "mixed": lambda: torch.ops.aten.rms_norm(x, [d], one_plus, eps),
            "same": lambda: torch.ops.aten.rms_norm(x, [d], one_plus.to(dtype), eps),
        }
        for way, fn in ways.items():
            row = {"shape": name, "dims": list(shape), "way": way}
            try:
                out = fn()
                row["out_dtype"] = str(out.dtype).replace("torch.", "")
                diff = (out.float() - ref.float()).abs()
                row["max_abs_diff_vs_hf"] = diff.max().item()
                row["mismatched_elements"] = int((out.to(dtype) != ref).sum().item())
                row["us_per_call"] = round(timed(fn), 1)
            except Exception as e:  # the mixed call may be refused: that is an answer too
                row["error"] = f"{type(e).__name__}: {e}".splitlines()[0]
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
