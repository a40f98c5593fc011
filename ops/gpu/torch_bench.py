#!/usr/bin/env python3
"""Python-torch side of the dkv runtime micro-benchmark (dkv.scorers.torch.bench.TorchMicroBench).

Prints the same `key value` lines as the Java benchmark, measured the same way: per-op dispatch overhead
of a small op on an 8x8 float32 tensor (result freed each time, timed between device synchronizations),
and bf16 n x n x n matmul TFLOP/s after warm-up. Keys prefixed with `inference.` repeat the dispatch
timings under torch.inference_mode(), Python's cheapest eager mode.

    python ops/gpu/torch_bench.py --device cuda:0 --sizes 4096,8192
"""
import argparse
import time

import torch


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def micros_per_op(op, iterations, device):
    for _ in range(iterations):  # same warm-up as the Java side, which needs it for its JIT
        op()
    sync(device)
    t0 = time.perf_counter_ns()
    for _ in range(iterations):
        op()
    sync(device)
    return (time.perf_counter_ns() - t0) / 1e3 / iterations


def dispatch(device, iterations, prefix=""):
    g = torch.Generator().manual_seed(1)
    a = torch.randn(8, 8, generator=g).to(device)
    b = torch.randn(8, 8, generator=g).to(device)
    ops = {
        "add": lambda: torch.add(a, b),
        "mul": lambda: torch.mul(a, b),
        "silu": lambda: torch.nn.functional.silu(a),
        "softmax": lambda: torch.softmax(a, -1),
        "matmul8": lambda: torch.matmul(a, b),
        "narrow": lambda: a.narrow(0, 1, 4),
    }
    for name, op in ops.items():
        print(f"{prefix}dispatch.{name}.us {micros_per_op(op, iterations, device):.3f}", flush=True)


def matmul(device, n, iterations):
    g = torch.Generator().manual_seed(3)
    a = torch.randn(n, n, generator=g).to(device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, generator=g).to(device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(iterations):
        a @ b
    sync(device)
    seconds = time.perf_counter() - t0
    print(f"matmul.bf16.{n}.tflops {2.0 * n * n * n * iterations / seconds / 1e12:.3f}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    p.add_argument("--sizes", default="4096,8192")
    p.add_argument("--iters", type=int, default=0, help="matmul iterations (default: about 2 s of work)")
    p.add_argument("--dispatch-iters", type=int, default=20000)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    device = torch.device(args.device)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    print(f"# python torch {torch.__version__}, cuda {torch.version.cuda}, "
          f"{torch.cuda.device_count()} CUDA device(s), device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""), flush=True)
    dispatch(device, args.dispatch_iters)
    with torch.inference_mode():
        dispatch(device, args.dispatch_iters, prefix="inference.")
    for n in (int(s) for s in args.sizes.split(",")):
        iters = args.iters or int(max(5, min(500, 1.4e15 / (2.0 * n ** 3))))
        matmul(device, n, iters)


if __name__ == "__main__":
    main()
