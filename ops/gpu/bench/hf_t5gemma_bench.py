#!/usr/bin/env python3
"""HF transformers side of dkv's encoder-decoder benchmark (issue 14): scores every sample x condition of a
T5Gemma 2 workload (DESIGN.md "Encoder-decoder layout (T5Gemma 2)") with HF's own model code, batched, and
times it. Writes results.json in hf_bench.py's format, so compare.py reads it.

Each pair: encoder over BOS·PREFIX·DOC, decoder over BOS·QUERY·ANSWER cross-attending to the encoder output;
NLL = mean over the answer tokens of -log p (log-softmax in float32; the LM head runs only on the decoder rows
that predict answer tokens). ENCODER_COENCODE_MASKED hides exactly the PREFIX from the decoder: the encoder runs
unmasked and the visibility mask goes to the decoder alone (`T5Gemma2Model(encoder_outputs=...,
attention_mask=visible)` uses attention_mask only as the decoder's encoder_attention_mask, T5GEMMA2-FACTS.md §8,
as t5gemma2_fixtures.py does). Padding: encoder inputs right-padded with a key-padding mask; decoder inputs
right-padded (causal, so real rows never see the padding; padded rows are not read).

Two batched programs, each timed at every --batch-sizes value; the fastest of all is "batched" (what compare.py
calls HF batched), each program's best is listed too:
- shared: one encoder pass per distinct encoder input (the conditions of a sample that co-encode the same
  surrogate share it: 8 conditions, 5 passes per sample). Distinct inputs are sorted by length and encoded in
  batches of B; then all pairs that read those inputs are decoded in one padded batch, their encoder states
  picked by index from the batch's output (encoder_outputs reuse, no copy per pair).
- plain: HF's padded full-model batch: pairs sorted by encoder length, B pairs per batch, each pair its own
  encoder pass, then the decoder (the same computation as one `model(input_ids, attention_mask,
  decoder_input_ids)` call; split in two so that the masked conditions can hide the prefix from the decoder only).
--research adds the plain program at batch 1 (the v3 notebook's one pair at a time) as mode "research".

Every run: warm-up on its largest batch, torch.cuda.synchronize() around the timed pass over the whole workload,
peak memory (max_memory_allocated / max_memory_reserved; weights included) since just before it. FLOPs counted
as 2·(encoder layer params · encoder tokens computed + decoder layer params · decoder tokens + embedding ·
answer rows); the FLOP floor charges every pair its own encoder pass (no sharing), as hf_bench.py's does.

  python hf_t5gemma_bench.py --model DIR --work work.jsonl --plan plan.json --out results.json \\
      [--batch-sizes 32,64,128,256] [--programs shared,plain] [--research] [--device cuda:0] [--dtype bfloat16]
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
from transformers import T5Gemma2ForConditionalGeneration
from transformers.modeling_outputs import BaseModelOutput

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_layout import InputError, layout_encdec, load_plan, load_samples  # noqa: E402
from hf_bench import Clock, answer_nll, answer_rows, padded  # noqa: E402

PROGRAMS = ("shared", "plain")


class T5Scorer:
    """Answer NLLs of laid-out encoder-decoder pairs through HF's T5Gemma2ForConditionalGeneration."""

    def __init__(self, model, pad_id=0):
        self.model = model
        self.device = next(model.parameters()).device
        self.pad_id = pad_id
        self.softcap = model.config.decoder.final_logit_softcapping

    def encode(self, rows):
        """Encoder output (n, T, H) of right-padded encoder inputs (padding masked as keys)."""
        ids, mask = padded(rows, self.pad_id, self.device)
        return self.model.get_encoder()(input_ids=ids, attention_mask=mask, return_dict=True).last_hidden_state

    def cross_masks(self, lays, width):
        """(n, width) 1 where the pair's decoder may see the encoder position: its own tokens minus the hidden
        PREFIX; 0 for padding."""
        mask = torch.zeros(len(lays), width, dtype=torch.long)
        for i, lay in enumerate(lays):
            mask[i, :len(lay.enc_ids)] = 1
            hidden = lay.hidden
            if len(hidden):
                mask[i, hidden.start:hidden.stop] = 0
        return mask.to(self.device)

    def decode(self, encoder_states, lays):
        """NLLs (n,) of pairs whose encoder states are rows of encoder_states (n, T, H)."""
        dec_ids, _ = padded([lay.dec_ids for lay in lays], self.pad_id, self.device)
        cross = self.cross_masks(lays, encoder_states.shape[1])
        hidden = self.model.model(encoder_outputs=BaseModelOutput(last_hidden_state=encoder_states),
                                  attention_mask=cross, decoder_input_ids=dec_ids, use_cache=False).last_hidden_state
        # decoder row len - answer - 1 + k predicts answer token k
        rows, cols, targets, owner = answer_rows(lays, lambda lay: lay.dec_ids,
                                                 lambda lay: len(lay.dec_ids) - lay.answer - 1,
                                                 lambda lay: len(lay.dec_ids) - lay.answer, self.device)
        return answer_nll(self.model.lm_head, hidden[rows, cols], targets, owner, len(lays), self.softcap)

    # ------------------------------------------------------------------ programs

    def shared_step(self, inputs, users):
        """One encoder batch of distinct inputs, then one decoder batch of every pair that reads them.
        Returns (pairs, nlls)."""
        states = self.encode(inputs)
        pairs, index = [], []
        for j, e in enumerate(inputs):
            for lay in users[e]:
                pairs.append(lay)
                index.append(j)
        picked = states.index_select(0, torch.tensor(index, device=self.device))
        return pairs, self.decode(picked, pairs)

    def plain_step(self, lays):
        """Each pair its own encoder pass, then the decoder."""
        return lays, self.decode(self.encode([lay.enc_ids for lay in lays]), lays)


def shared_plan(layouts, size):
    """Distinct encoder inputs, longest first, in batches of `size`; and who reads each."""
    users = {}
    for lay in layouts:
        users.setdefault(lay.enc_ids, []).append(lay)
    distinct = sorted(users, key=len, reverse=True)
    return [distinct[i:i + size] for i in range(0, len(distinct), size)], users


def plain_plan(layouts, size):
    order = sorted(layouts, key=lambda lay: len(lay.enc_ids), reverse=True)
    return [order[i:i + size] for i in range(0, len(order), size)]


def run_program(scorer, layouts, clock, program, size):
    """Warm-up (the largest batch), then the whole workload timed. Returns (seconds, nlls in layout order,
    extra fields)."""
    if program == "shared":
        plan, users = shared_plan(layouts, size)
        step = lambda batch: scorer.shared_step(batch, users)  # noqa: E731
        encoder_tokens = sum(len(e) for e in users)
        padded_encoder = sum(len(b) * len(b[0]) for b in plan)
        decoder_batches = [[lay for e in b for lay in users[e]] for b in plan]
    else:
        plan = plain_plan(layouts, size)
        step = scorer.plain_step
        encoder_tokens = sum(len(lay.enc_ids) for lay in layouts)
        padded_encoder = sum(len(b) * len(b[0].enc_ids) for b in plan)
        decoder_batches = plan
    clock.release()
    step(plan[0])
    clock.sync()
    clock.reset_peak()
    t0 = time.perf_counter()
    results = [step(b) for b in plan]
    clock.sync()
    seconds = time.perf_counter() - t0
    by_pair = {}
    for pairs, nll in results:
        for lay, v in zip(pairs, nll.cpu().tolist()):
            by_pair[(lay.sample_id, lay.condition)] = v
    nlls = [by_pair[(lay.sample_id, lay.condition)] for lay in layouts]
    padded_decoder = sum(len(b) * max(len(lay.dec_ids) for lay in b) for b in decoder_batches)
    return seconds, nlls, {**clock.peaks(), "encoder_batches": len(plan), "decoder_batches": len(decoder_batches),
                           "encoder_tokens_computed": encoder_tokens, "padded_encoder_tokens": padded_encoder,
                           "padded_decoder_tokens": padded_decoder}


# ---------------------------------------------------------------------- model, FLOPs

def load_model(path, dtype, device):
    placement = {"device_map": str(device)} if importlib.util.find_spec("accelerate") else {}
    model = T5Gemma2ForConditionalGeneration.from_pretrained(path, dtype=dtype, attn_implementation="sdpa",
                                                             **placement)
    return model.to(device).eval()


def param_groups(model):
    """Parameters that do work per token: encoder layers (+ final norm), decoder layers (+ final norm), the
    embedding (= LM head, per predicted row); vision apart."""
    groups = {"encoder": 0, "decoder": 0, "embedding": 0, "vision": 0}
    for name, p in model.named_parameters():
        if ".vision_tower." in name or ".multi_modal_projector." in name:
            groups["vision"] += p.numel()
        elif "embed_tokens" in name or name.startswith("lm_head."):
            groups["embedding"] += p.numel()
        elif ".encoder." in name:
            groups["encoder"] += p.numel()
        else:
            groups["decoder"] += p.numel()
    return groups


def flops(groups, encoder_tokens, decoder_tokens, answer_tokens):
    return 2.0 * (groups["encoder"] * encoder_tokens + groups["decoder"] * decoder_tokens
                  + groups["embedding"] * answer_tokens)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--plan", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--programs", default="shared,plain")
    p.add_argument("--batch-sizes", default="32,64,128,256")
    p.add_argument("--research", action="store_true", help="also the plain program at batch 1 (mode research)")
    p.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", choices=["bfloat16", "float32", "float16"], default=None,
                   help="default: bfloat16 on cuda, float32 on cpu")
    p.add_argument("--peak-tflops", type=float, default=800.0,
                   help="the FLOP floor's rate (an H200's 8192^3 bf16 matmul reached 769-798 here)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    programs = [x.strip() for x in args.programs.split(",") if x.strip()]
    for x in programs:
        if x not in PROGRAMS:
            raise SystemExit(f"--programs: unknown program '{x}' {PROGRAMS}")
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype or ("bfloat16" if device.type == "cuda" else "float32"))

    try:
        plan = load_plan(args.plan)
        samples = load_samples(args.work)
        odd = [c.name for c in plan.conditions if not c.encoder_decoder]
        if odd:
            raise InputError(f"{args.plan}: conditions {odd} are not encoder-decoder conditions (placement "
                             "ENCODER_COENCODE / ENCODER_COENCODE_MASKED, or requires_family t5gemma2)")
        tok_file = os.path.join(args.model, "tokenizer.json")
        if not os.path.exists(tok_file):
            raise InputError(f"{args.model}: no tokenizer.json")
        tokenizer = Tokenizer.from_file(tok_file)
        t0 = time.perf_counter()
        layouts = [layout_encdec(tokenizer, c, s) for s in samples for c in plan.conditions]
        layout_seconds = time.perf_counter() - t0
    except InputError as e:
        raise SystemExit(str(e))

    t0 = time.perf_counter()
    model = load_model(args.model, dtype, device)
    load_seconds = time.perf_counter() - t0
    groups = param_groups(model)
    text_params = groups["encoder"] + groups["decoder"] + groups["embedding"]
    pad = tokenizer.token_to_id("<pad>")
    scorer = T5Scorer(model, pad_id=pad if pad is not None else 0)
    clock = Clock(device)
    pairs = len(layouts)
    enc_tokens = sum(len(lay.enc_ids) for lay in layouts)
    dec_tokens = sum(len(lay.dec_ids) for lay in layouts)
    answer_tokens = sum(lay.answer for lay in layouts)
    floor_seconds = flops(groups, enc_tokens, dec_tokens, answer_tokens) / (args.peak_tflops * 1e12)
    distinct = len({lay.enc_ids for lay in layouts})

    results = {
        "env": {"torch": torch.__version__, "transformers": transformers.__version__,
                "python": platform.python_version(), "device": str(device),
                "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                "dtype": str(dtype).removeprefix("torch."), "attn_implementation": "sdpa"},
        "model": {"dir": os.path.abspath(args.model), "architecture": type(model).__name__, "params": text_params,
                  "param_groups": groups, "load_seconds": round(load_seconds, 2)},
        "workload": {"samples": len(samples), "conditions": [c.name for c in plan.conditions], "pairs": pairs,
                     "tokens": enc_tokens + dec_tokens, "tokens_per_pair": round((enc_tokens + dec_tokens) / pairs, 2),
                     "encoder_tokens_per_pair": round(enc_tokens / pairs, 2),
                     "decoder_tokens_per_pair": round(dec_tokens / pairs, 2),
                     "answer_tokens_per_pair": round(answer_tokens / pairs, 2),
                     "distinct_encoder_inputs": distinct,
                     "layout_seconds": round(layout_seconds, 4), "peak_tflops": args.peak_tflops,
                     "floor_pairs_per_s": round(pairs / floor_seconds, 2),
                     "floor_note": "2 x (encoder layer params x encoder tokens + decoder layer params x decoder "
                                   "tokens + embedding x answer tokens) per pair, every pair its own encoder pass"},
        "modes": {}, "nll": {}, "keys": [[lay.sample_id, lay.condition] for lay in layouts],
    }
    print(f"# {pairs} pairs ({len(samples)} samples x {len(plan.conditions)} conditions), {distinct} distinct "
          f"encoder inputs; {enc_tokens / pairs:.1f} encoder + {dec_tokens / pairs:.1f} decoder tokens per pair; "
          f"{text_params / 1e9:.3f}e9 text params (+{groups['vision'] / 1e9:.3f}e9 vision); "
          f"{results['env']['gpu'] or device} {results['env']['dtype']}; model load {load_seconds:.1f}s; "
          f"FLOP floor {pairs / floor_seconds:.1f} pairs/s", flush=True)

    def row(program, size, seconds, extra):
        work = flops(groups, extra["encoder_tokens_computed"], dec_tokens, answer_tokens)
        tflops = work / seconds / 1e12
        label = f"{program} encoder, batch {size}" if program == "shared" else f"plain, batch {size}"
        return {"program": program, "batch_size": size, "label": label, "pairs": pairs,
                "seconds": round(seconds, 4), "pairs_per_s": round(pairs / seconds, 3),
                "tokens": enc_tokens + dec_tokens, "tflops": round(tflops, 2),
                "floor_fraction": round(tflops / args.peak_tflops, 4), **extra}

    with torch.inference_mode():
        if args.research:
            seconds, nlls, extra = run_program(scorer, layouts, clock, "plain", 1)
            r = row("plain", 1, seconds, extra)
            r["label"] = "research (batch 1)"
            results["modes"]["research"] = r
            results["nll"]["research"] = nlls
            print("research", json.dumps(r), flush=True)
        tried, best = [], {}
        for program in programs:
            for size in sizes:
                try:
                    seconds, nlls, extra = run_program(scorer, layouts, clock, program, size)
                except torch.cuda.OutOfMemoryError as e:
                    tried.append({"program": program, "batch_size": size,
                                  "error": f"out of memory: {str(e).splitlines()[0]}"})
                    torch.cuda.empty_cache()
                    print(f"{program} bs={size}: out of memory", flush=True)
                    continue
                r = row(program, size, seconds, extra)
                tried.append(r)
                print("batched", json.dumps(r), flush=True)
                if program not in best or r["pairs_per_s"] > best[program][0]["pairs_per_s"]:
                    best[program] = (r, nlls)
        if not best:
            raise SystemExit("batched: every program and batch size ran out of memory")
        top = max(best, key=lambda prog: best[prog][0]["pairs_per_s"])
        results["modes"]["batched"] = {**best[top][0], "label": "batched: " + best[top][0]["label"],
                                       "by_batch_size": tried}
        results["nll"]["batched"] = best[top][1]
        for program, (r, nlls) in best.items():  # each program's best (the top one is "batched" too)
            results["modes"][f"batched_{program}"] = {**r, **({"same_as": "batched"} if program == top else {})}
            results["nll"][f"batched_{program}"] = nlls
    results["mean_nll_by_condition"] = {
        mode: {c.name: sum(v for lay, v in zip(layouts, nlls) if lay.condition == c.name) / len(samples)
               for c in plan.conditions} for mode, nlls in results["nll"].items()}
    print("mean NLL by condition", json.dumps(results["mean_nll_by_condition"]["batched"]), flush=True)
    checks = {}
    ref = results["nll"]["batched"]
    for mode, nlls in results["nll"].items():
        if mode != "batched" and nlls is not ref:
            diffs = [abs(a - b) for a, b in zip(nlls, ref)]
            checks[f"max_abs_nll_diff_{mode}_vs_batched"] = max(diffs)
    if checks:
        results["checks"] = checks
        print("checks", json.dumps(checks), flush=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
