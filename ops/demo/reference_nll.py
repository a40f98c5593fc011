"""HF transformers reference for the demo: answer NLL of every demo/plan.json condition on every sample.

    /opt/refvenv/bin/python ops/demo/reference_nll.py [--model demo/model] [--plan demo/plan.json]
        [--samples demo/samples.jsonl] [--out demo/reference/nll.jsonl]

Writes one line per (sample, condition) with the mean answer NLL, the answer token count and the
segment token counts, and prints per-condition means and paired deltas vs the baseline. It is the
independent peer of `dkv demo`: the Java scorer's ScoreRecords should match these numbers (float32
CPU, to ~1e-4), except `shuffled` surrogates, whose word order comes from this script's own RNG.

PREFIX_TRUNCATED is real cache surgery, as docs/architecture.md describes: forward BOS·PREFIX·DOC, drop the
prefix entries keeping BOS, re-rotate the document keys by -P, then forward QUERY·ANSWER at
positions from 1+D on the truncated cache.
"""

import argparse
import json
import math
import pathlib
import random
import sys

import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, DynamicCache

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from layout import segment_lengths, segments  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- RoPE re-rotation

def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rotate_keys_half_split(keys, shift, inv_freq):
    """RoPE rotation of every key by `shift` positions with HF Llama's half-split (rotate_half) pairing."""
    angles = shift * inv_freq
    cos = torch.cat((angles, angles)).cos()
    sin = torch.cat((angles, angles)).sin()
    return keys * cos + rotate_half(keys) * sin


def rotate_keys_interleaved(keys, shift, inv_freq):
    """The historical bug: the same rotation applied to adjacent pairs (2i, 2i+1) instead of (i, i+d/2)."""
    angles = shift * inv_freq
    cos, sin = angles.cos(), angles.sin()
    even, odd = keys[..., 0::2], keys[..., 1::2]
    out = torch.empty_like(keys)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


CORRECTIONS = {
    "HALF_SPLIT": rotate_keys_half_split,
    "INTERLEAVED": rotate_keys_interleaved,
    "NONE": lambda keys, shift, inv_freq: keys,
}


# ---------------------------------------------------------------- scoring

def answer_nll(logits, ids, answer_len):
    """Mean over the last answer_len tokens of -log p(token | everything before it); logits[t] predicts ids[t+1]."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    positions = range(len(ids) - answer_len, len(ids))
    return -sum(logp[p - 1, ids[p]].item() for p in positions) / answer_len


@torch.no_grad()
def condition_nll(model, tok, sample, placement, surrogate=None, correction="HALF_SPLIT"):
    """(mean answer NLL, segment lengths [BOS, PREFIX, DOC, SUFFIX, QUERY, ANSWER]) of one condition."""
    segs = segments(sample, placement, surrogate)
    ids, lengths = segment_lengths(tok, segs)
    n_bos, n_prefix, n_doc, _, _, n_answer = lengths
    if placement in ("NONE", "PREFIX_FULL", "SUFFIX"):
        logits = model(input_ids=torch.tensor([ids])).logits[0]
        return answer_nll(logits, ids, n_answer), lengths
    if placement != "PREFIX_TRUNCATED":
        raise ValueError(f"placement {placement}: not a decoder-only placement this reference computes")
    context = n_bos + n_prefix + n_doc
    out = model(input_ids=torch.tensor([ids[:context]]), use_cache=True)
    inv_freq = model.model.rotary_emb.inv_freq
    rotate = CORRECTIONS[correction]
    truncated = DynamicCache()
    for layer_idx, layer in enumerate(out.past_key_values.layers):
        keys, values = layer.keys, layer.values
        doc_keys = rotate(keys[:, :, n_bos + n_prefix:], -n_prefix, inv_freq)
        truncated.update(torch.cat((keys[:, :, :n_bos], doc_keys), dim=2),
                         torch.cat((values[:, :, :n_bos], values[:, :, n_bos + n_prefix:]), dim=2), layer_idx)
    rest = ids[context:]
    start = n_bos + n_doc
    logits = model(input_ids=torch.tensor([rest]), past_key_values=truncated,
                   position_ids=torch.arange(start, start + len(rest)).unsqueeze(0)).logits[0]
    return answer_nll(logits, rest, n_answer), lengths


@torch.no_grad()
def check_truncation_reference(model, tok, sample):
    """The invariant docs/architecture.md pins, applied to this script's own surgery: after truncation with the
    half-split correction, layer-0 document keys equal the bare cache's (the interleaved pairing breaks it)."""
    p_ids, (n_bos, n_prefix, n_doc, *_) = segment_lengths(tok, segments(sample, "PREFIX_TRUNCATED", sample["query"]))
    b_ids, (_, _, n_doc_bare, *_) = segment_lengths(tok, segments(sample, "NONE"))
    assert n_doc == n_doc_bare and p_ids[n_bos + n_prefix:][:n_doc] == b_ids[1:1 + n_doc], "document tokens drift"
    prefixed = model(input_ids=torch.tensor([p_ids[:n_bos + n_prefix + n_doc]]), use_cache=True).past_key_values
    bare = model(input_ids=torch.tensor([b_ids[:1 + n_doc]]), use_cache=True).past_key_values
    inv_freq = model.model.rotary_emb.inv_freq
    doc_keys = prefixed.layers[0].keys[:, :, n_bos + n_prefix:]
    bare_keys = bare.layers[0].keys[:, :, 1:]
    half = (rotate_keys_half_split(doc_keys, -n_prefix, inv_freq) - bare_keys).abs().max().item()
    inter = (rotate_keys_interleaved(doc_keys, -n_prefix, inv_freq) - bare_keys).abs().max().item()
    assert half < 1e-4 < inter, f"truncation reference broken: half-split {half:.2e}, interleaved {inter:.2e}"
    print(f"truncation reference ok: layer-0 doc keys max |Δ| half-split {half:.1e}, interleaved {inter:.1e}")


# ---------------------------------------------------------------- plan conditions

def surrogate_of(condition, sample, rng, conditions):
    """The condition's surrogate text; `shuffled` shuffles the words of the surrogate of the condition named by `of`."""
    kind = condition.get("surrogate_kind")
    if kind is None:
        return None
    if kind == "oracle":
        return sample["query"]
    if kind == "static":
        return condition["surrogate"].replace("{query}", sample["query"]).replace("{passage}", sample["passage"])
    if kind == "shuffled":
        source = next((c for c in conditions if c["name"] == condition["of"]), None)
        if source is None:
            raise ValueError(f"condition {condition['name']}: 'of' names no condition: {condition['of']}")
        words = surrogate_of(source, sample, rng, conditions).split()
        rng.shuffle(words)
        return " ".join(words)
    raise ValueError(f"condition {condition['name']}: surrogate_kind {kind} not supported here")


def score_plan(model, tok, samples, conditions, seed=0):
    """One record per (sample, condition), in sample order then plan order."""
    rng = random.Random(seed)
    records = []
    for sample in samples:
        for condition in conditions:
            surrogate = surrogate_of(condition, sample, rng, conditions)
            nll, lengths = condition_nll(model, tok, sample, condition["placement"], surrogate,
                                         condition.get("rope_correction", "HALF_SPLIT"))
            records.append({"sample_id": sample["id"], "condition": condition["name"], "nll_mean": nll,
                            "answer_tokens": lengths[5], "surrogate": surrogate,
                            "segment_tokens": dict(zip(("bos", "prefix", "doc", "suffix", "query", "answer"), lengths))})
    return records


def summarize(records, baseline):
    """Mean NLL per condition and the paired delta vs the baseline (positive = the condition helps)."""
    by = {}
    for r in records:
        by.setdefault(r["condition"], {})[r["sample_id"]] = r["nll_mean"]
    base = by[baseline]
    summary = {}
    for name, values in by.items():
        deltas = [base[s] - v for s, v in values.items()]
        mean = sum(deltas) / len(deltas)
        sd = math.sqrt(sum((d - mean) ** 2 for d in deltas) / max(1, len(deltas) - 1))
        summary[name] = {"n": len(deltas), "mean_nll": sum(values.values()) / len(values), "mean_delta": mean,
                         "sd_delta": sd, "win_rate": sum(d > 0 for d in deltas) / len(deltas)}
    return summary


def print_table(title, summary, baseline):
    print(f"\n{title}")
    print(f"| condition | mean NLL | mean δ vs {baseline} | sd δ | win rate |")
    print("|---|---:|---:|---:|---:|")
    for name, s in summary.items():
        print(f"| {name} | {s['mean_nll']:.4f} | {s['mean_delta']:+.4f} | {s['sd_delta']:.4f} | {s['win_rate']:.1%} |")


def load_model(model_dir):
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    return model, Tokenizer.from_file(str(pathlib.Path(model_dir) / "tokenizer.json"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "demo" / "model"))
    parser.add_argument("--plan", default=str(REPO / "demo" / "plan.json"))
    parser.add_argument("--samples", default=str(REPO / "demo" / "samples.jsonl"))
    parser.add_argument("--out", default=str(REPO / "demo" / "reference" / "nll.jsonl"))
    parser.add_argument("--conditions", default=None, help="comma-separated subset of the plan's conditions")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model, tok = load_model(args.model)
    plan = json.loads(pathlib.Path(args.plan).read_text())
    samples = [json.loads(line) for line in pathlib.Path(args.samples).read_text().splitlines() if line.strip()]
    conditions = plan["conditions"]
    if args.conditions:
        wanted = args.conditions.split(",")
        unknown = sorted(set(wanted) - {c["name"] for c in conditions})
        if unknown:
            raise SystemExit(f"--conditions: {', '.join(unknown)} not in {args.plan}")
        conditions = [c for c in conditions if c["name"] in wanted]
    check_truncation_reference(model, tok, samples[0])
    records = score_plan(model, tok, samples, conditions)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print_table(f"{args.samples}: {len(samples)} samples x {len(conditions)} conditions -> {out}",
                summarize(records, plan["baseline"]), plan["baseline"])


if __name__ == "__main__":
    main()
