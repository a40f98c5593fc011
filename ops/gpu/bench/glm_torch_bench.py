#!/usr/bin/env python3
"""The Python peer of dkv's GLM scorer (issue 15): ChatGLM-6B's math in plain PyTorch (glm_torch.py, a batched
port of ops/reference/glm_reference.py; there is no maintained HF class), scoring every sample x condition of
a workload with DESIGN.md's prefix-LM layout, timed two ways:

- research: batch 1, each pair on its own, as the notebooks did: prefill TEXT.[gMASK].<sop> with logits on
  every row (what `model(...)` returns), for PREFIX_TRUNCATED drop the PREFIX entries and rotate the kept keys'
  position channel by -P, then QUERY.ANSWER as one causal chunk over the cache (logits on every row).
- batched (the best Python program we know): one prefill per distinct TEXT (a sample's bare and query-free
  conditions share one, oracle full and truncated share one, ...), texts sorted by length into right-padded
  batches, every layer's K/V kept in one flat store; then the continuations of all pairs, sorted by length,
  in right-padded batches that gather their (truncated, re-rotated) caches from the store per layer; the LM
  head runs only on the rows that predict answer tokens (the <sop> row from the prefill for a first answer
  token). SDPA with boolean prefix-LM / continuation masks. Each --batch-sizes value (rows per batch, texts
  in prefills and pairs in continuations) gets an untimed pass over the whole workload, then --passes timed
  ones (seconds = their mean); the fastest batch size is reported, all are listed.

Timed region: torch.cuda.synchronize() on both ends; excludes loading and tokenization (layouts are computed
before). Reported per mode as hf_bench.py does (compare.py reads both): pairs/s, seconds, `tokens` (every
token of each pair's own sequence: TEXT, [gMASK], <sop>, QUERY, ANSWER — the FLOP floor's count, shared and
truncated work not credited), `tflops` = 2.params.tokens/s and `floor_fraction` (/ --peak-tflops),
`forwarded_tokens` (real tokens the mode actually ran through the layers) with `forwarded_tflops`, peak memory
(torch.cuda.max_memory_allocated and _reserved, weights included), and every pair's NLL (mean -log p of the
answer tokens, log-softmax in float32 over the whole config vocabulary) in the order of `keys`.
params = the model's parameters with lm_head counted once (tied to the embeddings in the published model).

  python glm_torch_bench.py --model DIR --work work.jsonl --plan plan.json --out results.json \\
      [--modes research,batched] [--batch-sizes 16,32,64,128,256] [--device cuda:0] [--dtype float16]
"""
import argparse
import json
import os
import platform
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import glm_layout  # noqa: E402
import glm_torch as gt  # noqa: E402
from bench_layout import InputError, load_plan, load_samples  # noqa: E402


class Clock:
    def __init__(self, device):
        self.device = torch.device(device)

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def release(self):
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def reset_peak(self):
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def peaks(self):
        if self.device.type != "cuda":
            return {"peak_bytes": None, "peak_reserved_bytes": None}
        return {"peak_bytes": torch.cuda.max_memory_allocated(self.device),
                "peak_reserved_bytes": torch.cuda.max_memory_reserved(self.device)}


def pad(rows, width, value, device):
    out = torch.full((len(rows), width), value, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(r, dtype=torch.long)
    return out.to(device, non_blocking=True)


class Peer:
    def __init__(self, model, pad_id):
        self.m = model
        self.dev = model.device
        self.pad_id = pad_id

    # ------------------------------------------------------------------ research: one pair at a time

    def research_pair(self, lay):
        m, dev = self.m, self.dev
        n = lay.n_text
        ids = torch.tensor([lay.prompt_ids], device=dev)
        position, block, mask = gt.prefill_geometry([n], n + 2, dev)
        cos, sin = m.rope_tables(position, block)
        x = m.embed[ids]
        cache = []
        for layer in m.layers:
            x, k, v = m.block(layer, x, cos, sin, mask)
            cache.append((k, v))
        prompt_logits = torch.nn.functional.linear(m.layer_norm(x[0], m.final_w, m.final_b), m.lm_head).float()
        if lay.drop:
            cache = [(k[:, :, lay.drop:], v[:, :, lay.drop:]) for k, v in cache]
            if lay.shift:
                delta = torch.full((1, lay.past), -lay.shift, device=dev)
                cache = [(m.rotate_position_channel(k, delta), v) for k, v in cache]
        c = len(lay.cont_ids)
        cont = torch.tensor([lay.cont_ids], device=dev)
        position, block, mask = gt.continuation_geometry([lay.past], [c], [n - lay.drop], lay.past, c, dev)
        cos, sin = m.rope_tables(position, block)
        x = m.embed[cont]
        for layer, (pk, pv) in zip(m.layers, cache):
            x, _, _ = m.block(layer, x, cos, sin, mask, pk, pv)
        cont_logits = torch.nn.functional.linear(m.layer_norm(x[0], m.final_w, m.final_b), m.lm_head).float()
        rows = torch.cat([prompt_logits[-1:], cont_logits[:-1]])  # <sop> predicts the first continuation token
        lps = torch.log_softmax(rows, dim=-1).gather(1, cont[0, :, None])[:, 0]
        return -lps[c - lay.answer:].mean()

    # ------------------------------------------------------------------ batched: shared prefills, batched continuations

    def batched(self, layouts, size):
        """NLLs (a tensor on the device, in the order of layouts) and what was run."""
        m, dev = self.m, self.dev
        L, H, D = len(m.layers), m.heads, m.head_dim
        texts, text_of = {}, []
        for lay in layouts:
            text_of.append(texts.setdefault(lay.prompt_ids, len(texts)))
        prompts = list(texts)
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        pre_batches = [order[i:i + size] for i in range(0, len(order), size)]
        # store: prefill batch b's padded [rows, width] tokens at offset[b] (row-major), every layer
        offsets, where, total = [], {}, 0
        for batch in pre_batches:
            width = len(prompts[batch[0]])
            offsets.append(total)
            for r, t in enumerate(batch):
                where[t] = total + r * width
            total += len(batch) * width
        store_k = torch.empty(L, total, H, D, dtype=m.dtype, device=dev)
        store_v = torch.empty(L, total, H, D, dtype=m.dtype, device=dev)
        sop_hidden = torch.empty(len(prompts), m.hidden, dtype=m.dtype, device=dev)
        padded = 0
        for batch, off in zip(pre_batches, offsets):
            width = len(prompts[batch[0]])
            n_texts = [len(prompts[t]) - 2 for t in batch]
            ids = pad([prompts[t] for t in batch], width, self.pad_id, dev)
            position, block, mask = gt.prefill_geometry(n_texts, width, dev)
            cos, sin = m.rope_tables(position, block)
            x = m.embed[ids]
            span = slice(off, off + len(batch) * width)
            for li, layer in enumerate(m.layers):
                x, k, v = m.block(layer, x, cos, sin, mask)
                store_k[li, span] = k.transpose(1, 2).reshape(-1, H, D)
                store_v[li, span] = v.transpose(1, 2).reshape(-1, H, D)
            rows = torch.tensor(n_texts, device=dev) + 1
            sop_hidden[torch.tensor(batch, device=dev)] = x[torch.arange(len(batch), device=dev), rows]
            padded += len(batch) * width

        pair_order = sorted(range(len(layouts)), key=lambda i: -(layouts[i].past + len(layouts[i].cont_ids)))
        nll_sum = torch.zeros(len(layouts), dtype=torch.float32, device=dev)
        answers = torch.tensor([lay.answer for lay in layouts], dtype=torch.float32, device=dev)
        cont_batches = [pair_order[i:i + size] for i in range(0, len(pair_order), size)]
        for batch in cont_batches:
            lays = [layouts[i] for i in batch]
            past_w = max(lay.past for lay in lays)
            width = max(len(lay.cont_ids) for lay in lays)
            index = torch.zeros(len(lays), past_w, dtype=torch.long)
            delta = torch.zeros(len(lays), past_w, dtype=torch.float32)
            for r, (i, lay) in enumerate(zip(batch, lays)):
                start = where[text_of[i]] + lay.drop
                index[r, :lay.past] = torch.arange(start, start + lay.past)
                delta[r, :lay.past] = -lay.shift
            rotate = any(lay.shift for lay in lays)
            index = index.view(-1).to(dev, non_blocking=True)
            delta = delta.to(dev, non_blocking=True)
            ids = pad([lay.cont_ids for lay in lays], width, self.pad_id, dev)
            position, block, mask = gt.continuation_geometry([lay.past for lay in lays], [len(lay.cont_ids) for lay in lays],
                                                             [lay.n_text - lay.drop for lay in lays], past_w, width, dev)
            cos, sin = m.rope_tables(position, block)
            x = m.embed[ids]
            for li, layer in enumerate(m.layers):
                pk = store_k[li].index_select(0, index).view(len(lays), past_w, H, D).transpose(1, 2)
                pv = store_v[li].index_select(0, index).view(len(lays), past_w, H, D).transpose(1, 2)
                if rotate:
                    pk = m.rotate_position_channel(pk, delta)
                x, _, _ = m.block(layer, x, cos, sin, mask, pk, pv)
            # rows predicting answer tokens: continuation token t is predicted by row t of [<sop> | chunk]
            ext = torch.cat([sop_hidden[torch.tensor([text_of[i] for i in batch], device=dev)][:, None], x], dim=1)
            flat, targets, owner = [], [], []
            for r, (i, lay) in enumerate(zip(batch, lays)):
                c = len(lay.cont_ids)
                flat += [r * (width + 1) + t for t in range(c - lay.answer, c)]
                targets += lay.cont_ids[c - lay.answer:]
                owner += [i] * lay.answer
            lp = m.logprobs(ext.reshape(-1, m.hidden)[torch.tensor(flat, device=dev)], torch.tensor(targets, device=dev))
            nll_sum.index_add_(0, torch.tensor(owner, device=dev), -lp)
            padded += len(lays) * width
        forwarded = sum(len(p) for p in prompts) + sum(len(lay.cont_ids) for lay in layouts)
        info = {"prefill_texts": len(prompts), "prefill_batches": len(pre_batches),
                "continuation_batches": len(cont_batches), "forwarded_tokens": forwarded, "padded_tokens": padded,
                "kv_store_bytes": 2 * store_k.numel() * store_k.element_size()}
        return nll_sum / answers, info


def run_research(peer, layouts, clock, warmup):
    clock.release()
    for lay in layouts[:warmup]:
        peer.research_pair(lay)
    clock.sync()
    clock.reset_peak()
    t0 = time.perf_counter()
    nlls = [peer.research_pair(lay) for lay in layouts]
    clock.sync()
    seconds = time.perf_counter() - t0
    return seconds, torch.stack(nlls).cpu().tolist(), {**clock.peaks(), "forwarded_tokens": sum(l.tokens for l in layouts)}


def run_batched(peer, layouts, clock, size, passes):
    """Seconds per pass over the workload (the mean of `passes` timed passes after an untimed one)."""
    clock.release()
    peer.batched(layouts, size)  # warm-up: the whole workload once
    clock.sync()
    clock.release()
    clock.reset_peak()
    t0 = time.perf_counter()
    for _ in range(passes):
        nll, info = peer.batched(layouts, size)
    clock.sync()
    seconds = (time.perf_counter() - t0) / passes
    return seconds, nll.cpu().tolist(), {**clock.peaks(), **info, "timed_passes": passes}


def throughput(pairs, tokens, seconds, params, peak_tflops, forwarded=None):
    tflops = 2.0 * params * tokens / seconds / 1e12
    out = {"pairs": pairs, "seconds": round(seconds, 4), "pairs_per_s": round(pairs / seconds, 3), "tokens": tokens,
           "tflops": round(tflops, 2), "floor_fraction": round(tflops / peak_tflops, 4)}
    if forwarded:
        out["forwarded_tflops"] = round(2.0 * params * forwarded / seconds / 1e12, 2)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--plan", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--modes", default="research,batched")
    p.add_argument("--batch-sizes", default="16,32,64,128,256")
    p.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", choices=["float16", "bfloat16", "float32"], default=None,
                   help="default: float16 on cuda (ChatGLM-6B's own), float32 on cpu")
    p.add_argument("--warmup", type=int, default=16, help="research mode: pairs scored before timing")
    p.add_argument("--passes", type=int, default=3, help="batched mode: timed passes over the workload per batch size")
    p.add_argument("--peak-tflops", type=float, default=800.0, help="the FLOP floor's rate (H100/H200 dense 16-bit)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    modes = [x.strip() for x in args.modes.split(",") if x.strip()]
    for mode in modes:
        if mode not in ("research", "batched"):
            raise SystemExit(f"--modes: unknown mode '{mode}' (research, batched)")
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype or ("float16" if device.type == "cuda" else "float32"))

    try:
        plan = load_plan(args.plan)
        samples = load_samples(args.work)
        t0 = time.perf_counter()
        tok = glm_layout.tokenizer(args.model)
        layouts = [glm_layout.layout(tok, c, s) for s in samples for c in plan.conditions]
        layout_seconds = time.perf_counter() - t0
    except InputError as e:
        raise SystemExit(str(e))

    t0 = time.perf_counter()
    with torch.inference_mode():
        model = gt.GlmTorch.load(args.model, device, dtype)
    clock = Clock(device)
    clock.sync()
    load_seconds = time.perf_counter() - t0
    params = model.params()
    peer = Peer(model, pad_id=tok.pad_id)
    tokens = sum(lay.tokens for lay in layouts)
    pairs = len(layouts)
    floor_seconds = 2.0 * params * tokens / (args.peak_tflops * 1e12)
    results = {
        "peer": "torch",
        "env": {"torch": torch.__version__, "python": platform.python_version(), "device": str(device),
                "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                "dtype": str(dtype).removeprefix("torch."), "attention": "sdpa (boolean masks)"},
        "model": {"dir": os.path.abspath(args.model), "params": params, "load_seconds": round(load_seconds, 2),
                  "params_counted": "every parameter, lm_head counted once (tied to the embeddings in the published model)"},
        "workload": {"samples": len(samples), "conditions": [c.name for c in plan.conditions], "pairs": pairs,
                     "tokens": tokens, "tokens_per_pair": round(tokens / pairs, 2),
                     "tokens_counted": "per pair, every token of its own sequence: TEXT (prefix, document, suffix), "
                                       "[gMASK], <sop>, QUERY, ANSWER",
                     "distinct_texts": len({lay.prompt_ids for lay in layouts}),
                     "layout_seconds": round(layout_seconds, 4), "peak_tflops": args.peak_tflops,
                     "floor_pairs_per_s": round(pairs / floor_seconds, 2)},
        "modes": {}, "nll": {}, "keys": [[lay.sample_id, lay.condition] for lay in layouts],
    }
    print(f"# {pairs} pairs, {tokens} tokens ({tokens / pairs:.1f}/pair), {results['workload']['distinct_texts']} "
          f"distinct texts, {params / 1e9:.3f}e9 params, {results['env']['gpu'] or device} {results['env']['dtype']}; "
          f"model load {load_seconds:.1f}s; FLOP floor {pairs / floor_seconds:.1f} pairs/s", flush=True)

    with torch.inference_mode():
        if "research" in modes:
            seconds, nlls, extra = run_research(peer, layouts, clock, min(args.warmup, pairs))
            results["modes"]["research"] = {**throughput(pairs, tokens, seconds, params, args.peak_tflops,
                                                         extra["forwarded_tokens"]), **extra}
            results["nll"]["research"] = nlls
            print("research", json.dumps(results["modes"]["research"]), flush=True)
        if "batched" in modes:
            tried, best = [], None
            for size in sizes:
                try:
                    seconds, nlls, extra = run_batched(peer, layouts, clock, size, args.passes)
                except torch.cuda.OutOfMemoryError as e:
                    tried.append({"batch_size": size, "error": f"out of memory: {str(e).splitlines()[0]}"})
                    clock.release()
                    print(f"batched bs={size}: out of memory", flush=True)
                    continue
                row = {"batch_size": size, **throughput(pairs, tokens, seconds, params, args.peak_tflops,
                                                        extra["forwarded_tokens"]), **extra}
                tried.append(row)
                print("batched", json.dumps(row), flush=True)
                if best is None or row["pairs_per_s"] > best[0]["pairs_per_s"]:
                    best = (row, nlls)
            if best is None:
                raise SystemExit("batched: every batch size ran out of memory")
            results["modes"]["batched"] = {**best[0], "by_batch_size": tried}
            results["nll"]["batched"] = best[1]
    results["mean_nll_by_condition"] = {
        mode: {c.name: sum(v for lay, v in zip(layouts, nlls) if lay.condition == c.name) / len(samples)
               for c in plan.conditions} for mode, nlls in results["nll"].items()}
    print("mean NLL by condition", json.dumps(results["mean_nll_by_condition"]), flush=True)
    bad = [k for nlls in results["nll"].values() for k, v in zip(results["keys"], nlls) if not v == v or abs(v) == float("inf")]
    if bad:
        raise SystemExit(f"non-finite NLLs, e.g. {bad[:3]}")
    if "research" in results["nll"] and "batched" in results["nll"]:
        diffs = [abs(a - b) for a, b in zip(results["nll"]["research"], results["nll"]["batched"])]
        results["checks"] = {"max_abs_nll_diff_research_vs_batched": max(diffs),
                             "mean_abs_nll_diff_research_vs_batched": sum(diffs) / len(diffs)}
        print("checks", json.dumps(results["checks"]), flush=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
