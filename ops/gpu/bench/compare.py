#!/usr/bin/env python3
"""Side-by-side table of the scorer benchmark: HF research (a), HF batched (b) and dkv's Java scorer.

Reads hf_bench.py's, hf_t5gemma_bench.py's or glm_torch_bench.py's results.json (same format; its "peer", default
"hf", names the rows; any further modes, e.g. each program's best, are listed as rows too), the Java run's JSONL
(`sample_id`, `condition`, `nll` — `nll_mean` is accepted too) and the Java timing JSON
({"pairs": N, "seconds": S, "peak_bytes": B}). Prints pairs/s, the
ratios to (a) and (b), the fraction of the FLOP floor (workload pairs/s at 2·params·tokens per pair and
--peak-tflops, from results.json), peak GPU memory, and how far the Java NLLs are from HF's, pair by pair
(the HF research-vs-batched difference alongside, as the size of bf16 noise). Every HF pair must have a
Java NLL: missing or extra pairs are an error. Memory: "peak GiB" is HF's max_memory_allocated; "rsvd|smi" is
HF's max_memory_reserved and, for Java, java_timing.py's nvidia-smi reading (context and reserve included), the
two numbers to compare.

  python compare.py --hf results.json [--java java.jsonl --java-timing java-timing.json] [--json out.json]
                    [--tolerance 0.05]
"""
import argparse
import json
import math
import sys


def read_java(path):
    nll = {}
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{line_no}: not JSON: {e}")
            value = r.get("nll", r.get("nll_mean"))
            if not isinstance(r.get("sample_id"), str) or not isinstance(r.get("condition"), str) \
                    or not isinstance(value, (int, float)):
                raise SystemExit(f"{path}:{line_no}: expected sample_id, condition (strings) and nll (number)")
            key = (r["sample_id"], r["condition"])
            if key in nll:
                raise SystemExit(f"{path}:{line_no}: duplicate pair {key[0]}/{key[1]}")
            nll[key] = float(value)
    return nll


def row(name, pairs_per_s, peak_bytes, research, batched, floor, peak_reserved_bytes=None):
    return {"name": name, "pairs_per_s": pairs_per_s,
            "vs_research": pairs_per_s / research if research else None,
            "vs_batched": pairs_per_s / batched if batched else None,
            "floor_fraction": pairs_per_s / floor, "peak_bytes": peak_bytes,
            "peak_reserved_bytes": peak_reserved_bytes}


def mode_name(peer, name, mode):
    if "label" in mode:
        return f"{peer} {mode['label']}"
    return {"research": f"{peer} research (batch 1)"}.get(name, f"{peer} {name} (batch {mode.get('batch_size')})")


def nll_diffs(keys, reference, other):
    diffs = [(abs(other[k] - v), k) for k, v in zip(keys, reference)]
    worst = max(diffs)
    return {"max": worst[0], "mean": sum(d for d, _ in diffs) / len(diffs), "worst": worst[1]}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hf", "--peer", dest="hf", required=True,
                   help="results.json of hf_bench.py, hf_t5gemma_bench.py or glm_torch_bench.py")
    p.add_argument("--java", help="Java scores (JSONL)")
    p.add_argument("--java-timing", help='{"pairs": N, "seconds": S, "peak_bytes": B}')
    p.add_argument("--json", help="also write the comparison here")
    p.add_argument("--tolerance", type=float, help="fail (exit 3) when max |ΔNLL| Java vs HF batched exceeds it")
    args = p.parse_args()
    with open(args.hf) as f:
        hf = json.load(f)
    modes, work = hf["modes"], hf["workload"]
    peer = hf.get("peer", "hf")
    floor = work["floor_pairs_per_s"]
    research = modes.get("research", {}).get("pairs_per_s")
    batched = modes.get("batched", {}).get("pairs_per_s")
    rows = []
    for name in ["research", "batched"] + [m for m in modes if m not in ("research", "batched")]:
        m = modes.get(name)
        if m and m.get("pairs_per_s") and not m.get("same_as"):
            rows.append(row(mode_name(peer, name, m), m["pairs_per_s"], m.get("peak_bytes"), research, batched, floor,
                            m.get("peak_reserved_bytes")))
    out = {"peer": peer, "workload": work, "env": hf.get("env"), "rows": rows}

    keys = [tuple(k) for k in hf["keys"]]
    status = 0
    if args.java:
        java = read_java(args.java)
        missing = [k for k in keys if k not in java]
        extra = sorted(set(java) - set(keys))
        if missing or extra:
            print(f"error: Java scores {args.java}: {len(missing)} pairs missing (e.g. {missing[:3]}), "
                  f"{len(extra)} not in the {peer} workload (e.g. {extra[:3]})", file=sys.stderr)
            return 1
        out["nll"] = {"matched": len(keys)}
        for mode in ("batched", "research"):
            if mode in hf["nll"]:
                d = nll_diffs(keys, hf["nll"][mode], java)
                out["nll"][f"max_abs_diff_vs_{mode}"] = d["max"]
                out["nll"][f"mean_abs_diff_vs_{mode}"] = d["mean"]
                if mode == "batched" or "worst" not in out["nll"]:
                    out["nll"]["worst"] = {"sample_id": d["worst"][0], "condition": d["worst"][1], "vs": mode}
        if args.tolerance is not None and out["nll"].get("max_abs_diff_vs_batched", 0.0) > args.tolerance:
            status = 3
    if args.java_timing:
        with open(args.java_timing) as f:
            t = json.load(f)
        for field in ("pairs", "seconds"):
            if not isinstance(t.get(field), (int, float)) or t[field] <= 0:
                raise SystemExit(f"{args.java_timing}: field '{field}' must be a positive number, found {t.get(field)!r}")
        # nvidia-smi's view (context and allocator reserve included): it sits in the reserved column
        rows.append(row("java", t["pairs"] / t["seconds"], None, research, batched, floor, t.get("peak_bytes")))
        out["java_timing"] = t
    rows.append({"name": "FLOP floor", "pairs_per_s": floor, "vs_research": floor / research if research else None,
                 "vs_batched": floor / batched if batched else None, "floor_fraction": 1.0, "peak_bytes": None,
                 "peak_reserved_bytes": None})

    print(f"workload: {work['samples']} samples x {len(work['conditions'])} conditions = {work['pairs']} pairs, "
          f"{work['tokens_per_pair']} tokens/pair; {hf['model']['params'] / 1e9:.2f}e9 params; "
          f"floor = {work['peak_tflops']:.0f} TFLOP/s; {hf['env'].get('gpu') or hf['env']['device']} "
          f"{hf['env']['dtype']}")
    if "tokens_counted" in work:
        print(f"floor: 2 x {hf['model']['params']:.4g} params x tokens per pair ({work['tokens_counted']})")
    width = max(24, *(len(r["name"]) for r in rows))
    header = (f"{'':{width}} {'pairs/s':>9} {'x (a)':>7} {'x (b)':>7} {'floor':>7} {'peak GiB':>9} "
              f"{'rsvd|smi':>9}")
    print(header)
    fmt = lambda v, spec: (format("-", ">" + spec.split(".")[0]) if v is None or (isinstance(v, float) and  # noqa: E731
                                                                             math.isnan(v)) else format(v, spec))
    gib = lambda b: b / 2 ** 30 if b else None  # noqa: E731
    for r in rows:
        print(f"{r['name']:{width}} {fmt(r['pairs_per_s'], '9.1f')} {fmt(r['vs_research'], '7.2f')} "
              f"{fmt(r['vs_batched'], '7.2f')} {fmt(r['floor_fraction'], '7.1%')} {fmt(gib(r['peak_bytes']), '9.2f')} "
              f"{fmt(gib(r.get('peak_reserved_bytes')), '9.2f')}")
    for key, value in hf.get("checks", {}).items():
        if key.startswith("max_abs_nll_diff_"):
            what = key.removeprefix("max_abs_nll_diff_").replace("_vs_", " vs ").replace("_", " ")
            print(f"{peer} {what}: max |dNLL| {value:.4g} "
                  f"(the size of {hf['env']['dtype']} noise between two {peer} programs)")
    if "nll" in out:
        n = out["nll"]
        parts = [f"max |dNLL| vs {peer} {m} {n[f'max_abs_diff_vs_{m}']:.4g} (mean {n[f'mean_abs_diff_vs_{m}']:.3g})"
                 for m in ("batched", "research") if f"max_abs_diff_vs_{m}" in n]
        print(f"java vs {peer} over {n['matched']} pairs: " + "; ".join(parts)
              + f"; worst {n['worst']['sample_id']}/{n['worst']['condition']}")
        if status:
            print(f"error: max |dNLL| vs {peer} batched exceeds --tolerance {args.tolerance}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return status


if __name__ == "__main__":
    sys.exit(main())
