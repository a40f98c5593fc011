#!/usr/bin/env python3
"""HF transformers side of dkv's scorer benchmark (issue 8): scores every sample x condition of a workload
with dkv's sequence-layout semantics (docs/architecture.md "Layouts and recipes") in two ways and times them.

- research: batch 1, each condition's cache built on its own, the way the research notebooks did: prefill
  BOS·PREFIX·DOC(·SUFFIX) into a DynamicCache (for PREFIX_TRUNCATED: drop the PREFIX entries, keep BOS,
  re-rotate the document keys by -P), then forward QUERY·ANSWER with that cache and read the answer NLL.
- batched: right-padded batches with an attention mask, pairs sorted by length so batches pad little,
  SDPA; one causal forward per pair for NONE / PREFIX_FULL / SUFFIX; for PREFIX_TRUNCATED a batched
  prefill, a batched gather + re-rotation of the cache, and a batched continuation. The LM head runs only
  on the rows that predict answer tokens (what `logits_to_keep` is for, per row). Every batch size given
  is timed; the best is reported.

Re-rotation is done in float32 with the model's own rotary embedding (half-split `rotate_half` pairing
for HALF_SPLIT; the historical interleaved pairing for INTERLEAVED; none for NONE), the document moving from
positions 1+P+i to 1+i, the continuation starting at 1+D. NLL = mean over answer tokens of -log p in float32.

Both modes: warm-up first, torch.cuda.synchronize() around the timed run, pairs/s, peak memory
(torch.cuda.max_memory_allocated, weights included), tokens processed, achieved TFLOP/s = 2·params·tokens/s
and its fraction of --peak-tflops, and every pair's NLL (so another implementation can be compared number
by number).

  python hf_bench.py --model DIR --work work.jsonl --plan plan.json --out results.json \\
      [--modes research,batched] [--batch-sizes 16,32,64,128,256] [--device cuda:0] [--dtype bfloat16]
"""
import argparse
import importlib.util
import json
import os
import platform
import sys
import time

import torch
import transformers
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, DynamicCache
from transformers.models.mistral.modeling_mistral import rotate_half

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_layout import InputError, layout, load_plan, load_samples  # noqa: E402

TRUNCATED = "PREFIX_TRUNCATED"


# ---------------------------------------------------------------------- shared by the decoder-only and T5 scorers

def padded(rows, pad_id, device):
    """Right-padded ids (n, width) and their mask, built on the host and moved once."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    return ids.to(device), mask.to(device)


def answer_rows(lays, ids_of, first_predicting, answer_start, device):
    """Index tensors: for each answer token k of row i, the row index in the hidden states that predicts it
    (first_predicting(lay) + k), its target id (ids_of(lay)[answer_start(lay) + k]) and its owner i."""
    rows, cols, targets, owner = [], [], [], []
    for i, lay in enumerate(lays):
        ids = ids_of(lay)
        for k in range(lay.answer):
            rows.append(i)
            cols.append(first_predicting(lay) + k)
            targets.append(ids[answer_start(lay) + k])
            owner.append(i)
    as_tensor = lambda xs: torch.tensor(xs, dtype=torch.long).to(device)  # noqa: E731
    return as_tensor(rows), as_tensor(cols), as_tensor(targets), as_tensor(owner)


def answer_nll(lm_head, hidden, targets, owner, n, softcap=None):
    """Mean -log p(target) per row from the hidden states that predict answer tokens (R, H): the LM head runs on
    those rows only (then the final logit softcap, if the model has one); log-softmax in float32."""
    logits = lm_head(hidden).float()
    if softcap is not None:
        logits = torch.tanh(logits / softcap) * softcap
    picked = torch.log_softmax(logits, dim=-1).gather(1, targets[:, None])[:, 0]
    sums = torch.zeros(n, dtype=torch.float32, device=hidden.device).index_add_(0, owner, picked)
    return -sums / torch.bincount(owner, minlength=n).float()


class HfScorer:
    """Answer NLLs of laid-out pairs through an HF causal LM with rotate_half RoPE: the Llama/Mistral/Qwen2 family,
    and Gemma 3 (Gemma3ForCausalLM), whose rotary module keeps one table per layer type (sliding layers theta 1e4,
    full layers theta 1e6 with linear scaling): a re-rotation then uses each layer's own table."""

    def __init__(self, model, pad_id=0):
        self.model = model
        self.device = next(model.parameters()).device
        self.rotary = model.model.rotary_emb
        self.pad_id = pad_id
        # per-layer-type RoPE tables (Gemma 3): the rotary module is called with the layer's type
        self.layer_types = list(model.config.layer_types) if hasattr(self.rotary, "layer_types") else None

    def new_cache(self):
        """An empty cache that keeps every entry: with per-layer-type models (Gemma 3) a config-built cache would
        trim sliding layers to their window, and the truncation gathers by index; the masks still apply the
        windows (by index, as HF's own forward does)."""
        return DynamicCache() if self.layer_types else DynamicCache(config=self.model.config)

    # ------------------------------------------------------------------ cache surgery (shared by both modes)

    def rerotated(self, keys, half_split_delta, interleaved_delta=None, layer_type=None):
        """keys (n, kv_heads, K, head_dim) rotated by per-entry position deltas (n, K), in float32, with the
        table of `layer_type` (per-layer-type models) or the model's one table.

        A delta of 0 is an exact identity (cos 1, sin 0), so entries that must not move (BOS, padding, rows
        without correction) simply get delta 0."""
        k = keys.float()
        if half_split_delta is not None:
            dummy = torch.zeros(1, dtype=torch.float32, device=keys.device)
            delta = half_split_delta.to(keys.device)
            cos, sin = self.rotary(dummy, delta, layer_type) if layer_type else self.rotary(dummy, delta)
            cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)  # float32 (n, 1, K, head_dim)
            k = k * cos + rotate_half(k) * sin
        if interleaved_delta is not None:
            k = self.rotated_interleaved(k, interleaved_delta.to(keys.device), layer_type)
        return k.to(keys.dtype)

    def rotated_interleaved(self, k, delta, layer_type=None):
        """The historical bug (rope_correction=INTERLEAVED): pairs (2j, 2j+1) turned by frequency j, although
        the model pairs (j, j + d/2)."""
        inv_freq = getattr(self.rotary, f"{layer_type}_inv_freq") if layer_type else self.rotary.inv_freq
        inv_freq = inv_freq.to(device=k.device, dtype=torch.float32)
        angle = delta.float()[:, None, :, None] * inv_freq  # (n, 1, K, d/2)
        cos, sin = torch.cos(angle), torch.sin(angle)
        x0, x1 = k[..., 0::2], k[..., 1::2]
        out = torch.empty_like(k)
        out[..., 0::2] = x0 * cos - x1 * sin
        out[..., 1::2] = x1 * cos + x0 * sin
        return out

    def truncated_cache(self, cache, lays):
        """The PREFIX_TRUNCATED cache of each row: BOS (unless keep_bos is off) then the document, left-aligned,
        document keys re-rotated from 1+P+i to 1+i. Returns (cache, valid mask (n, K))."""
        n = len(lays)
        width = max(lay.kept for lay in lays)
        index = torch.zeros(n, width, dtype=torch.long)
        valid = torch.zeros(n, width, dtype=torch.long)
        half = torch.zeros(n, width, dtype=torch.float32)
        inter = torch.zeros(n, width, dtype=torch.float32)
        for i, lay in enumerate(lays):
            kept = (list(range(lay.bos)) if lay.keep_bos else []) + list(range(lay.bos + lay.prefix,
                                                                                lay.bos + lay.prefix + lay.doc))
            index[i, :len(kept)] = torch.tensor(kept)
            valid[i, :len(kept)] = 1
            shift = -(lay.prefix + (0 if lay.keep_bos else lay.bos))
            doc = slice(len(kept) - lay.doc, len(kept))
            if lay.rope_correction == "HALF_SPLIT":
                half[i, doc] = shift
            elif lay.rope_correction == "INTERLEAVED":
                inter[i, doc] = shift
        any_half = bool((half != 0).any())
        any_inter = bool((inter != 0).any())
        index = index.to(self.device)
        truncated = DynamicCache()
        for li, layer in enumerate(cache.layers):
            gather = index[:, None, :, None].expand(-1, layer.keys.shape[1], -1, layer.keys.shape[3])
            keys = layer.keys.gather(2, gather)
            values = layer.values.gather(2, gather)
            if any_half or any_inter:
                keys = self.rerotated(keys, half if any_half else None, inter if any_inter else None,
                                      self.layer_types[li] if self.layer_types else None)
            truncated.update(keys, values, li)
        return truncated, valid.to(self.device)

    def answer_nll(self, hidden, targets, owner, n):
        return answer_nll(self.model.lm_head, hidden, targets, owner, n,
                          getattr(self.model.config, "final_logit_softcapping", None))

    # ------------------------------------------------------------------ (a) research: batch 1

    def research_pair(self, lay):
        """One pair, its cache built on its own; returns the NLL as a 0-d float32 tensor (no host sync)."""
        ids = torch.tensor([lay.ids], device=self.device)
        total = len(lay.ids)
        ctx = lay.bos + lay.prefix + lay.doc if lay.placement == TRUNCATED else lay.context
        first = self.model(input_ids=ids[:, :ctx], position_ids=self.positions(0, ctx),
                           past_key_values=self.new_cache(), use_cache=True)
        cache, start = first.past_key_values, ctx
        if lay.placement == TRUNCATED:
            cache, _ = self.truncated_cache(cache, [lay])
            start = lay.kept
        rest = self.model(input_ids=ids[:, ctx:], position_ids=self.positions(start, start + total - ctx),
                          past_key_values=cache, use_cache=True)
        # row j of [last prefill row, continuation rows] predicts continuation token j
        logits = torch.cat([first.logits[0, -1:], rest.logits[0]])
        n, a = total - ctx, lay.answer
        logprobs = torch.log_softmax(logits[n - a:n].float(), dim=-1)
        return -logprobs.gather(1, ids[0, total - a:, None])[:, 0].mean()

    def positions(self, start, stop):
        return torch.arange(start, stop, device=self.device)[None, :]

    # ------------------------------------------------------------------ (b) batched

    def batch(self, lays):
        """NLLs (n,) of a batch of pairs that are all truncated or all single-pass."""
        truncated = {lay.placement == TRUNCATED for lay in lays}
        if len(truncated) != 1:
            raise ValueError("a batch mixes truncated and single-pass conditions")
        return self.batch_truncated(lays) if truncated.pop() else self.batch_single_pass(lays)

    def padded(self, rows):
        return padded(rows, self.pad_id, self.device)

    def answer_rows(self, lays, first_predicting, answer_start):
        return answer_rows(lays, lambda lay: lay.ids, first_predicting, answer_start, self.device)

    def batch_single_pass(self, lays):
        """NONE, PREFIX_FULL, SUFFIX: one causal forward over the whole text."""
        ids, mask = self.padded([lay.ids for lay in lays])
        positions = torch.arange(ids.shape[1], device=self.device).expand(len(lays), -1)
        hidden = self.model.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                  use_cache=False).last_hidden_state
        rows, cols, targets, owner = self.answer_rows(lays, lambda lay: len(lay.ids) - lay.answer - 1,
                                                      lambda lay: len(lay.ids) - lay.answer)
        return self.answer_nll(hidden[rows, cols], targets, owner, len(lays))

    def batch_truncated(self, lays):
        """PREFIX_TRUNCATED: prefill BOS·PREFIX·DOC, truncate + re-rotate the cache, continue QUERY·ANSWER."""
        heads = [lay.ids[:lay.bos + lay.prefix + lay.doc] for lay in lays]
        ids, mask = self.padded(heads)
        positions = torch.arange(ids.shape[1], device=self.device).expand(len(lays), -1)
        first = self.model.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                 past_key_values=self.new_cache(), use_cache=True)
        last = torch.tensor([len(h) - 1 for h in heads], device=self.device)
        last_hidden = first.last_hidden_state[torch.arange(len(lays), device=self.device), last]
        cache, valid = self.truncated_cache(first.past_key_values, lays)
        del first
        tails = [lay.ids[len(h):] for lay, h in zip(lays, heads)]
        window = getattr(self.model.config, "sliding_window", None) if self.layer_types else None
        if window and len(lays) > 1 and valid.shape[1] + max(len(t) for t in tails) >= window:
            # HF's window predicate is by slot: a ragged row's padding would shift its window (Gemma 3's 1024 is
            # far longer than the benchmark's texts; the fixtures' short windows are checked one pair at a time)
            raise ValueError(f"sliding window {window} within a ragged truncated batch of "
                             f"{valid.shape[1] + max(len(t) for t in tails)} slots: score these pairs one at a time")
        tail_ids, tail_mask = self.padded(tails)
        starts = torch.tensor([lay.kept for lay in lays], device=self.device)
        tail_positions = starts[:, None] + torch.arange(tail_ids.shape[1], device=self.device)[None, :]
        hidden = self.model.model(input_ids=tail_ids, attention_mask=torch.cat([valid, tail_mask], dim=1),
                                  position_ids=tail_positions, past_key_values=cache, use_cache=True).last_hidden_state
        # row j of [last prefill row, continuation rows] predicts tail token j
        hidden = torch.cat([last_hidden[:, None, :], hidden], dim=1)
        rows, cols, targets, owner = self.answer_rows(lays, lambda lay: lay.query,
                                                      lambda lay: len(lay.ids) - lay.answer)
        return self.answer_nll(hidden[rows, cols], targets, owner, len(lays))


def batches(layouts, size):
    """Length-sorted batches, truncated and single-pass pairs apart (they run different programs)."""
    out = []
    for truncated in (False, True):
        group = sorted((lay for lay in layouts if (lay.placement == TRUNCATED) == truncated),
                       key=lambda lay: len(lay.ids), reverse=True)
        out += [group[i:i + size] for i in range(0, len(group), size)]
    return out


def padded_tokens(batch):
    if batch[0].placement != TRUNCATED:
        return len(batch) * max(len(lay.ids) for lay in batch)
    heads = [lay.bos + lay.prefix + lay.doc for lay in batch]
    return len(batch) * (max(heads) + max(len(lay.ids) - h for lay, h in zip(batch, heads)))


# ---------------------------------------------------------------------- timing

class Clock:
    def __init__(self, device):
        self.device = device

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def release(self):
        """Returns cached blocks, so a run's reserved peak is its own, not an earlier run's pool."""
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def reset_peak(self):
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def peaks(self):
        """Peak bytes allocated (tensors) and reserved (the caching allocator's pool) since reset_peak()."""
        if self.device.type != "cuda":
            return {"peak_bytes": None, "peak_reserved_bytes": None}
        return {"peak_bytes": torch.cuda.max_memory_allocated(self.device),
                "peak_reserved_bytes": torch.cuda.max_memory_reserved(self.device)}


def run_research(scorer, layouts, clock, warmup):
    clock.release()
    for lay in layouts[:warmup]:
        scorer.research_pair(lay)
    clock.sync()
    clock.reset_peak()
    t0 = time.perf_counter()
    nlls = [scorer.research_pair(lay) for lay in layouts]
    clock.sync()
    seconds = time.perf_counter() - t0
    return seconds, torch.stack(nlls).cpu().tolist(), clock.peaks()


def run_batched(scorer, layouts, clock, size):
    plan = batches(layouts, size)
    clock.release()
    firsts = {}
    for b in plan:  # warm-up: the largest batch of each program (single-pass, truncated)
        firsts.setdefault(b[0].placement == TRUNCATED, b)
    for b in firsts.values():
        scorer.batch(b)
    clock.sync()
    clock.reset_peak()
    t0 = time.perf_counter()
    results = [(b, scorer.batch(b)) for b in plan]
    clock.sync()
    seconds = time.perf_counter() - t0
    by_pair = {}
    for b, nll in results:
        for lay, v in zip(b, nll.cpu().tolist()):
            by_pair[(lay.sample_id, lay.condition)] = v
    nlls = [by_pair[(lay.sample_id, lay.condition)] for lay in layouts]
    return seconds, nlls, {**clock.peaks(), "batches": len(plan),
                           "padded_tokens": sum(padded_tokens(b) for b in plan)}


def load_model(path, dtype, device):
    # device_map loads straight onto the device but needs `accelerate`; without it, load then move
    placement = {"device_map": str(device)} if importlib.util.find_spec("accelerate") else {}
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation="sdpa", **placement)
    return model.to(device).eval()


def throughput(pairs, tokens, seconds, params, peak_tflops):
    tflops = 2.0 * params * tokens / seconds / 1e12
    return {"pairs": pairs, "seconds": round(seconds, 4), "pairs_per_s": round(pairs / seconds, 3),
            "tokens": tokens, "tflops": round(tflops, 2), "floor_fraction": round(tflops / peak_tflops, 4)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--plan", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--modes", default="research,batched")
    p.add_argument("--batch-sizes", default="16,32,64,128,256")
    p.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", choices=["bfloat16", "float32", "float16"], default=None,
                   help="default: bfloat16 on cuda, float32 on cpu")
    p.add_argument("--warmup", type=int, default=16, help="research mode: pairs scored before timing")
    p.add_argument("--peak-tflops", type=float, default=800.0, help="the FLOP floor's rate (H100 bf16 dense)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if m not in ("research", "batched"):
            raise SystemExit(f"--modes: unknown mode '{m}' (research, batched)")
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype or ("bfloat16" if device.type == "cuda" else "float32"))

    try:
        plan = load_plan(args.plan)
        samples = load_samples(args.work)
    except InputError as e:
        raise SystemExit(str(e))
    tok_file = os.path.join(args.model, "tokenizer.json")
    if not os.path.exists(tok_file):
        raise SystemExit(f"{args.model}: no tokenizer.json")
    tokenizer = Tokenizer.from_file(tok_file)
    t0 = time.perf_counter()
    layouts = [layout(tokenizer, c, s) for s in samples for c in plan.conditions]
    layout_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    model = load_model(args.model, dtype, device)
    load_seconds = time.perf_counter() - t0
    params = sum(x.numel() for x in model.parameters())
    scorer = HfScorer(model, pad_id=tokenizer.token_to_id("<unk>") or 0)
    clock = Clock(device)
    tokens = sum(len(lay.ids) for lay in layouts)
    pairs = len(layouts)
    floor_seconds = 2.0 * params * tokens / (args.peak_tflops * 1e12)

    results = {
        "env": {"torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version(),
                "device": str(device), "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                "dtype": str(dtype).removeprefix("torch."), "attn_implementation": "sdpa"},
        "model": {"dir": os.path.abspath(args.model), "params": params, "load_seconds": round(load_seconds, 2)},
        "workload": {"samples": len(samples), "conditions": [c.name for c in plan.conditions], "pairs": pairs,
                     "tokens": tokens, "tokens_per_pair": round(tokens / pairs, 2),
                     "layout_seconds": round(layout_seconds, 4), "peak_tflops": args.peak_tflops,
                     "floor_pairs_per_s": round(pairs / floor_seconds, 2)},
        "modes": {}, "nll": {}, "keys": [[lay.sample_id, lay.condition] for lay in layouts],
    }
    print(f"# {pairs} pairs, {tokens} tokens ({tokens / pairs:.1f}/pair), {params / 1e9:.3f}e9 params, "
          f"{results['env']['gpu'] or device} {results['env']['dtype']}; model load {load_seconds:.1f}s; "
          f"FLOP floor {pairs / floor_seconds:.1f} pairs/s", flush=True)

    with torch.inference_mode():
        if "research" in modes:
            seconds, nlls, extra = run_research(scorer, layouts, clock, min(args.warmup, pairs))
            results["modes"]["research"] = {**throughput(pairs, tokens, seconds, params, args.peak_tflops), **extra}
            results["nll"]["research"] = nlls
            print("research", json.dumps(results["modes"]["research"]), flush=True)
        if "batched" in modes:
            tried, best = [], None
            for size in sizes:
                try:
                    seconds, nlls, extra = run_batched(scorer, layouts, clock, size)
                except torch.cuda.OutOfMemoryError as e:
                    tried.append({"batch_size": size, "error": f"out of memory: {str(e).splitlines()[0]}"})
                    torch.cuda.empty_cache()
                    print(f"batched bs={size}: out of memory", flush=True)
                    continue
                row = {"batch_size": size, **throughput(pairs, tokens, seconds, params, args.peak_tflops), **extra}
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
    if "research" in results["nll"] and "batched" in results["nll"]:
        diffs = [abs(a - b) for a, b in zip(results["nll"]["research"], results["nll"]["batched"])]
        results["checks"] = {"max_abs_nll_diff_research_vs_batched": max(diffs),
                             "mean_abs_nll_diff_research_vs_batched": sum(diffs) / len(diffs)}
        print("checks", json.dumps(results["checks"]), flush=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
