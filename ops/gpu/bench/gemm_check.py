#!/usr/bin/env python3
"""How fast can this GPU run the decoder bench's GEMMs? The ceiling under dkv's `aten::linear` time.

Times torch.nn.functional.linear (what dkv's Ops.linear calls: aten::linear) in bf16 on the Mistral-7B-shaped
projections (fused q/k/v 4096→6144, o 4096→4096, fused gate/up 4096→28672, down 14336→4096) at the row counts
dkv's forwards have (a 32-sample call: one prefill of ~10.7k padded tokens, continuations of ~4k), with each
BLAS back end torch offers (cuBLAS, cuBLASLt). Prints microseconds and TFLOP/s per GEMM and per layer (the
four together).

  python gemm_check.py --rows 3984,10656,16384 [--backends cublas,cublaslt] [--json out.json]
"""
import argparse
import json

import torch
import torch.nn.functional as F

from cuda_timing import timed

SHAPES = {"qkv": (4096, 6144), "o": (4096, 4096), "gate_up": (4096, 28672), "down": (14336, 4096)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default="3984,10656,16384")
    p.add_argument("--backends", default="cublas,cublaslt")
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--json")
    args = p.parse_args()
    torch.manual_seed(0)
    results = []
    weights = {name: torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * 0.02 for name, (k, n) in SHAPES.items()}
    for backend in args.backends.split(","):
        torch.backends.cuda.preferred_blas_library(backend)
        for m in (int(r) for r in args.rows.split(",")):
            layer_flops, layer_seconds = 0, 0
            for name, (k, n) in SHAPES.items():
                x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
                seconds = timed(lambda: F.linear(x, weights[name]), args.repeat)
                flops = 2 * m * k * n
                layer_flops += flops
                layer_seconds += seconds
                row = {"backend": backend, "rows": m, "gemm": name, "us": round(seconds * 1e6, 1),
                       "tflops": round(flops / seconds / 1e12, 1)}
                results.append(row)
                print(json.dumps(row), flush=True)
            row = {"backend": backend, "rows": m, "gemm": "layer", "us": round(layer_seconds * 1e6, 1),
                   "tflops": round(layer_flops / layer_seconds / 1e12, 1)}
            results.append(row)
            print(json.dumps(row), flush=True)
    print(torch.cuda.get_device_name(), torch.__version__, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
