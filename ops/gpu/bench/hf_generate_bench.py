#!/usr/bin/env python3
"""Generation benchmark of issue 16: dkv's TextGenerator (`dkv generate`) against HF transformers `generate`, greedy,
on make_model.py's random Mistral-7B-shaped model. Four subcommands, run in this order by run_generate.sh:

  workload  32 documents (90-110 tokens of the model's words wN, sentences ending in ".", seeded) x 5 prompt
            templates (fixed seeded instructions of 12-28 words, then a blank line, the document, a newline and
            "Question:") = 160 raw prompts, dkv generate's {id, prompt} lines; ids d00-t0 ... d31-t4.
  view      a directory of symlinks to the model's files plus a generation_config.json whose eos_token_id is
            the vocabulary size (an id no logit row has): neither side can stop early, so both generate exactly
            --max-new-tokens per prompt. Random weights would emit the real EOS only by chance (about one step
            in 32000), but one chance EOS would make the two sides decode different amounts of work. Both read
            this directory: dkv through GenerationConfig (generation_config.json's eos_token_id), HF through
            its GenerationConfig and the explicit eos_token_id below.
  hf        model.generate on the prompts, bf16, SDPA, greedy (do_sample=False), max_new_tokens, left padding
            with <unk> (id 0) and an attention mask (HF derives the positions from it), prompts sorted by token
            count (as dkv's TextGenerator sorts them) and cut into batches of each --batch-sizes value; the
            default dynamic cache (HF's plain `generate`, no static cache or compile). Per size: a warm-up
            generate of the first batch (3 new tokens), then torch.cuda.synchronize() around the timed run,
            peak memory since a reset (max_memory_allocated / max_memory_reserved). Every prompt's new tokens
            are kept, per size.
  compare   reads hf's results and, per Java batch size, java_timing.py's timing JSON and the two runs'
            output lines ({id, new_tokens, text}): surrogates/s and new tokens/s of both (Java's from the
            difference of its two runs: the workload repeated R times minus once, start-up and loading cancel),
            the ratio of the best Java to the best HF (goal >= 1.5), peak memory, and greedy token agreement:
            the share of prompts whose new tokens are identical, and the mean share of each prompt's tokens
            before the first difference — Java's best size against HF's best size, and, as the size of bf16
            noise, HF's sizes against each other and Java's against each other.

  python hf_generate_bench.py workload --model DIR --out prompts.jsonl [--docs 32] [--seed 42]
  python hf_generate_bench.py view --model DIR --out VIEW_DIR
  python hf_generate_bench.py hf --model VIEW_DIR --prompts prompts.jsonl --out hf-results.json \\
      [--batch-sizes 32,80,160] [--max-new-tokens 45] [--device cuda:0] [--dtype bfloat16]
  python hf_generate_bench.py compare --hf hf-results.json --java 160=java-b160.jsonl,java-b160-timing.json ... \\
      [--json compare.json]
"""
import argparse
import json
import os
import platform
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

TEMPLATES = 5
TEMPLATE_WORDS = (18, 24, 20, 28, 12)  # instruction lengths, like dkv's five templates of different length
PAD_ID = 0  # <unk> in make_model.py's Llama-style tokenizer


# ---------------------------------------------------------------------------------------------- workload

def cmd_workload(args):
    from tokenizers import Tokenizer
    from make_workload import passage, vocabulary_words
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    words = vocabulary_words(tok)
    rng = random.Random(args.seed)
    instructions = [" ".join(rng.choice(words) for _ in range(TEMPLATE_WORDS[k])) for k in range(TEMPLATES)]
    docs = [passage(rng, words, rng.randint(90, 110)) for _ in range(args.docs)]
    lines, lengths = [], []
    for d, doc in enumerate(docs):
        for k, instruction in enumerate(instructions):
            prompt = f"{instruction}\n\n{doc}\nQuestion:"
            lines.append({"id": f"d{d:02d}-t{k}", "prompt": prompt})
            lengths.append(len(tok.encode(prompt).ids))
    with open(args.out, "w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    doc_tokens = [len(tok.encode(doc, add_special_tokens=False).ids) for doc in docs]
    info = {"prompts": len(lines), "documents": len(docs), "templates": TEMPLATES, "seed": args.seed,
            "doc_tokens_min": min(doc_tokens), "doc_tokens_max": max(doc_tokens),
            "prompt_tokens_min": min(lengths), "prompt_tokens_max": max(lengths),
            "prompt_tokens_mean": round(sum(lengths) / len(lengths), 2), "unk_tokens": sum(
                tok.encode(line["prompt"]).ids.count(PAD_ID) for line in lines)}
    if info["unk_tokens"]:
        raise SystemExit(f"workload: {info['unk_tokens']} <unk> tokens: the prompts must use the model's own words")
    print(json.dumps(info), flush=True)


# ---------------------------------------------------------------------------------------------- view

def cmd_view(args):
    model = os.path.abspath(args.model)
    with open(os.path.join(model, "config.json")) as f:
        config = json.load(f)
    vocab = config["vocab_size"]
    if os.path.lexists(args.out):
        if not os.path.exists(os.path.join(args.out, "dkv-generate-view.json")):
            raise SystemExit(f"view: {args.out} exists and is not a view this script made; not replacing it")
        for name in os.listdir(args.out):
            os.remove(os.path.join(args.out, name))
    os.makedirs(args.out, exist_ok=True)
    for name in sorted(os.listdir(model)):
        if name in ("generation_config.json", "dkv-bench-model.json"):
            continue
        os.symlink(os.path.join(model, name), os.path.join(args.out, name))
    generation = {"bos_token_id": config.get("bos_token_id"), "eos_token_id": vocab, "pad_token_id": PAD_ID,
                  "do_sample": False}
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        json.dump(generation, f, indent=1)
    info = {"model": model, "view": os.path.abspath(args.out), "eos_token_id": vocab, "vocab_size": vocab,
            "why": "an end-of-sequence id no logit row has: both sides generate exactly max_new_tokens"}
    with open(os.path.join(args.out, "dkv-generate-view.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info), flush=True)


# ---------------------------------------------------------------------------------------------- hf

def read_prompts(path):
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                r = json.loads(line)
                if not isinstance(r.get("id"), str) or not isinstance(r.get("prompt"), str):
                    raise SystemExit(f"{path}:{n}: expected {{id: string, prompt: string}}")
                out.append(r)
    if not out:
        raise SystemExit(f"{path}: no prompts")
    return out


def new_token_lists(out, width, eos):
    """Each row's new tokens up to and including the first EOS (dkv's new_tokens)."""
    rows = []
    for row in out[:, width:].tolist():
        if eos in row:
            row = row[:row.index(eos) + 1]
        rows.append(row)
    return rows


def cmd_hf(args):
    import torch
    import transformers
    from tokenizers import Tokenizer
    from hf_bench import Clock, load_model

    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype or ("bfloat16" if device.type == "cuda" else "float32"))
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]
    prompts = read_prompts(args.prompts)
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    ids = [tok.encode(p["prompt"]).ids for p in prompts]  # BOS by the post-processor, as dkv's raw prompts
    with open(os.path.join(args.model, "generation_config.json")) as f:
        eos = json.load(f)["eos_token_id"]
    order = sorted(range(len(prompts)), key=lambda i: len(ids[i]))  # stable, as Java's List.sort

    t0 = time.perf_counter()
    model = load_model(args.model, dtype, device)
    load_seconds = time.perf_counter() - t0
    params = sum(x.numel() for x in model.parameters())
    clock = Clock(device)

    def batch_inputs(rows):
        width = max(len(ids[i]) for i in rows)
        x = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for r, i in enumerate(rows):  # left padding
            x[r, width - len(ids[i]):] = torch.tensor(ids[i])
            mask[r, width - len(ids[i]):] = 1
        return x.to(device), mask.to(device), width

    def generate(rows, max_new):
        x, mask, width = batch_inputs(rows)
        out = model.generate(input_ids=x, attention_mask=mask, max_new_tokens=max_new, do_sample=False,
                             eos_token_id=eos, pad_token_id=PAD_ID, use_cache=True)
        return new_token_lists(out, width, eos)

    results = {
        "env": {"torch": torch.__version__, "transformers": transformers.__version__,
                "python": platform.python_version(), "device": str(device),
                "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                "dtype": str(dtype).removeprefix("torch."), "attn_implementation": "sdpa"},
        "model": {"dir": os.path.abspath(args.model), "params": params, "load_seconds": round(load_seconds, 2),
                  "eos_token_id": eos},
        "workload": {"prompts": len(prompts), "prompt_tokens": sum(len(r) for r in ids),
                     "max_new_tokens": args.max_new_tokens, "greedy": True},
        "sizes": [], "tokens": {},
    }
    print(f"# hf: {len(prompts)} prompts, {sum(len(r) for r in ids) / len(ids):.1f} prompt tokens each, "
          f"{args.max_new_tokens} new; {params / 1e9:.3f}e9 params on {results['env']['gpu'] or device} "
          f"{results['env']['dtype']}, loaded in {load_seconds:.1f}s", flush=True)
    with torch.inference_mode():
        for size in sizes:
            batches = [order[i:i + size] for i in range(0, len(order), size)]
            try:
                clock.release()
                generate(batches[0], 3)  # warm-up
                clock.sync()
                clock.reset_peak()
                t0 = time.perf_counter()
                outs = [(b, generate(b, args.max_new_tokens)) for b in batches]
                clock.sync()
                seconds = time.perf_counter() - t0
            except torch.cuda.OutOfMemoryError as e:
                print(f"hf batch {size}: out of memory ({str(e).splitlines()[0]})", flush=True)
                results["sizes"].append({"batch_size": size, "error": "out of memory"})
                clock.release()
                continue
            tokens = {}
            for b, rows in outs:
                for i, row in zip(b, rows):
                    tokens[prompts[i]["id"]] = row
            new = sum(len(t) for t in tokens.values())
            entry = {"batch_size": size, "batches": len(batches), "seconds": round(seconds, 4),
                     "surrogates": len(tokens), "new_tokens": new,
                     "surrogates_per_s": round(len(tokens) / seconds, 3), "new_tokens_per_s": round(new / seconds, 1),
                     **clock.peaks()}
            results["sizes"].append(entry)
            results["tokens"][str(size)] = tokens
            print("hf", json.dumps(entry), flush=True)
    done = [s for s in results["sizes"] if "error" not in s]
    if not done:
        raise SystemExit("hf: no batch size ran")
    results["best"] = max(done, key=lambda s: s["new_tokens_per_s"])["batch_size"]
    with open(args.out, "w") as f:
        json.dump(results, f)


# ---------------------------------------------------------------------------------------------- compare

def read_java_lines(path):
    """{id: new_tokens} and the ids with an error field."""
    tokens, errors = {}, []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            if not isinstance(r.get("new_tokens"), list):
                raise SystemExit(f"{path}:{n}: expected dkv generate's {{id, new_tokens, text}}")
            key = str(r["id"])
            if key in tokens:
                raise SystemExit(f"{path}:{n}: id {key} twice")
            tokens[key] = r["new_tokens"]
            if "error" in r:
                errors.append(key)
    return tokens, errors


def agreement(a, b):
    """Over the ids of a (b must have them all): share identical, mean share of tokens before the first difference."""
    missing = sorted(set(a) - set(b))
    if missing:
        raise SystemExit(f"compare: {len(missing)} prompts missing from one side, e.g. {missing[:3]}")
    same, prefix = 0, 0.0
    for key, x in a.items():
        y = b[key]
        same += x == y
        n = max(len(x), len(y), 1)
        k = 0
        while k < min(len(x), len(y)) and x[k] == y[k]:
            k += 1
        prefix += k / n
    return {"prompts": len(a), "identical": same, "identical_share": round(same / len(a), 4),
            "mean_prefix_share": round(prefix / len(a), 4)}


def gib(b):
    return "-" if b is None else f"{b / 2 ** 30:.1f}"


def cmd_compare(args):
    with open(args.hf) as f:
        hf = json.load(f)
    prompts = hf["workload"]["prompts"]
    max_new = hf["workload"]["max_new_tokens"]
    java = []
    for spec in args.java:
        try:
            size, files = spec.split("=", 1)
            out_path, timing_path = files.split(",", 1)
            size = int(size)
        except ValueError:
            raise SystemExit(f"--java {spec}: expected SIZE=OUTPUT.jsonl,TIMING.json")
        if not os.path.exists(timing_path):
            print(f"java batch {size}: no timing ({timing_path}): its run failed; left out", flush=True)
            continue
        with open(timing_path) as f:
            timing = json.load(f)
        once, errors = read_java_lines(out_path)
        repeated_path = os.path.splitext(out_path)[0] + ".repeated.jsonl"
        many, many_errors = read_java_lines(repeated_path)
        if len(once) != prompts:
            raise SystemExit(f"{out_path}: {len(once)} generations for {prompts} prompts")
        surrogates = len(many) - len(once)
        new = sum(len(t) for t in many.values()) - sum(len(t) for t in once.values())
        seconds = timing["seconds"]
        java.append({"batch_size": size, "seconds": seconds, "surrogates": surrogates, "new_tokens": new,
                     "surrogates_per_s": round(surrogates / seconds, 3), "new_tokens_per_s": round(new / seconds, 1),
                     "peak_bytes": timing.get("peak_bytes"), "fixed_seconds": timing.get("fixed_seconds"),
                     "errors": len(errors) + len(many_errors), "tokens": once})
    if not java:
        raise SystemExit("compare: no Java run to compare")

    hf_done = [s for s in hf["sizes"] if "error" not in s]
    hf_best = max(hf_done, key=lambda s: s["new_tokens_per_s"])
    java_best = max(java, key=lambda s: s["new_tokens_per_s"])
    hf_tokens = hf["tokens"][str(hf_best["batch_size"])]
    lines = [f"generation: {prompts} prompts ({hf['workload']['prompt_tokens'] / prompts:.1f} prompt tokens each), "
             f"greedy, {max_new} new tokens, EOS id {hf['model']['eos_token_id']} (never produced); "
             f"{hf['model']['params'] / 1e9:.2f}e9 params, {hf['env']['gpu'] or hf['env']['device']} {hf['env']['dtype']}",
             "",
             f"{'side':<6} {'batch':>5} {'surr/s':>9} {'new tok/s':>10} {'seconds':>8} {'new tokens':>10} "
             f"{'peak GiB':>8} {'rsvd|smi':>8}"]
    for s in hf["sizes"]:
        if "error" in s:
            lines.append(f"{'hf':<6} {s['batch_size']:>5} {s['error']}")
            continue
        lines.append(f"{'hf':<6} {s['batch_size']:>5} {s['surrogates_per_s']:>9.2f} {s['new_tokens_per_s']:>10.1f} "
                     f"{s['seconds']:>8.3f} {s['new_tokens']:>10} {gib(s['peak_bytes']):>8} "
                     f"{gib(s['peak_reserved_bytes']):>8}")
    for s in java:
        lines.append(f"{'java':<6} {s['batch_size']:>5} {s['surrogates_per_s']:>9.2f} {s['new_tokens_per_s']:>10.1f} "
                     f"{s['seconds']:>8.3f} {s['new_tokens']:>10} {'-':>8} {gib(s['peak_bytes']):>8}"
                     + (f"  {s['errors']} lines with errors" if s["errors"] else ""))
    ratio = java_best["new_tokens_per_s"] / hf_best["new_tokens_per_s"]
    surr_ratio = java_best["surrogates_per_s"] / hf_best["surrogates_per_s"]
    lines += ["", f"best java (batch {java_best['batch_size']}) / best hf (batch {hf_best['batch_size']}): "
              f"{ratio:.2f}x new tokens/s, {surr_ratio:.2f}x surrogates/s (goal >= 1.5x: "
              f"{'met' if ratio >= 1.5 else 'not met'})"]
    exact = {"hf": all(len(t) == max_new for t in hf_tokens.values()),
             "java": all(len(t) == max_new for t in java_best["tokens"].values())}
    if not all(exact.values()):
        lines.append(f"note: not every prompt got exactly {max_new} new tokens ({exact}): compare new tokens/s")
    agree = {"java_vs_hf": agreement(java_best["tokens"], hf_tokens)}
    for s in hf_done:
        if s is not hf_best:
            agree[f"hf{s['batch_size']}_vs_hf{hf_best['batch_size']}"] = agreement(hf["tokens"][str(s["batch_size"])],
                                                                                  hf_tokens)
    for s in java:
        if s is not java_best:
            agree[f"java{s['batch_size']}_vs_java{java_best['batch_size']}"] = agreement(s["tokens"],
                                                                                        java_best["tokens"])
    lines += ["", "greedy token agreement (identical: share of prompts with the same new tokens; prefix: mean share "
              "of a prompt's tokens before the first difference):"]
    for name, a in agree.items():
        lines.append(f"  {name:<22} identical {a['identical']}/{a['prompts']} ({a['identical_share']:.1%}), "
                     f"prefix {a['mean_prefix_share']:.1%}")
    print("\n".join(lines), flush=True)
    if args.json:
        summary = {"workload": hf["workload"], "env": hf["env"], "model": hf["model"],
                   "hf": hf["sizes"], "java": [{k: v for k, v in s.items() if k != "tokens"} for s in java],
                   "best": {"hf": hf_best["batch_size"], "java": java_best["batch_size"]},
                   "ratio_new_tokens_per_s": round(ratio, 3), "ratio_surrogates_per_s": round(surr_ratio, 3),
                   "goal": 1.5, "goal_met": ratio >= 1.5, "exact_new_tokens": exact, "agreement": agree}
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("workload", help="160 raw prompts over the model's words")
    w.add_argument("--model", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--docs", type=int, default=32)
    w.add_argument("--seed", type=int, default=42)
    v = sub.add_parser("view", help="the model with an EOS id that never comes")
    v.add_argument("--model", required=True)
    v.add_argument("--out", required=True)
    h = sub.add_parser("hf", help="HF transformers generate, timed")
    h.add_argument("--model", required=True)
    h.add_argument("--prompts", required=True)
    h.add_argument("--out", required=True)
    h.add_argument("--batch-sizes", default="32,80,160")
    h.add_argument("--max-new-tokens", type=int, default=45)
    h.add_argument("--device", default="cuda:0")
    h.add_argument("--dtype", choices=["bfloat16", "float32", "float16"], default=None,
                   help="default: bfloat16 on cuda, float32 on cpu")
    h.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    c = sub.add_parser("compare", help="the side-by-side table")
    c.add_argument("--hf", required=True)
    c.add_argument("--java", action="append", default=[], metavar="SIZE=OUT.jsonl,TIMING.json")
    c.add_argument("--json")
    args = p.parse_args()
    {"workload": cmd_workload, "view": cmd_view, "hf": cmd_hf, "compare": cmd_compare}[args.command](args)


if __name__ == "__main__":
    main()
