#!/usr/bin/env python3
"""Writes the benchmark workload: MS MARCO-like samples in dkv's generic JSONL (id, query, passage, answer)
and plan.json with the 8 conditions, in dkv's plan format (what `dkv score --plan` reads).

Lengths follow DESIGN.md "Performance targets" (~100-token passage, 5-10-token surrogates, ~20-token QUERY
segment, ~10-token answer). Text is words of the benchmark tokenizer's vocabulary (one word = one token, see
make_model.py): passages are sentences ending in ".", queries are 8-10 words (the oracle surrogate is the
query, so it stays within 5-10 tokens; with the "\\n\\nQuestion: ...\\nAnswer:" template the QUERY segment is
15-17 tokens), answers 9-11 words, the static surrogate 8 fixed words. The lengths are checked by laying out
every pair with the tokenizer and printed.

  python make_workload.py --tokenizer MODEL_DIR --out work.jsonl [--plan plan.json] --samples 32 --seed 42

--family glm: the same samples over the words of make_glm_model.py's ice_text.model (word wN = one piece
"\u2581wN" after a space), and the GLM plan (exp 09's placements, DESIGN.md "Prefix-LM layout"): bare, oracle and
static SUFFIX (separator "\n\n", inside the bidirectional TEXT), oracle PREFIX_FULL, oracle and static
PREFIX_TRUNCATED (HALF_SPLIT), and the query-free bare and oracle suffix; lengths checked with glm_layout.py.
"""
import argparse
import json
import os
import random
import re
import sys
from statistics import mean

from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_layout import layout, load_plan  # noqa: E402

GLM_WORD = re.compile("\u2581(w\\d+)")


def vocabulary_words(tokenizer):
    words = sorted((w for w in tokenizer.get_vocab() if re.fullmatch(r"w\d+", w)), key=lambda w: int(w[1:]))
    if len(words) < 100:
        raise SystemExit(f"tokenizer has {len(words)} wN words; expected the benchmark tokenizer of make_model.py")
    return words


def glm_vocabulary_words(model_dir):
    """Words wN whose piece \u2581wN is in the snapshot's ice_text.model (read without sentencepiece)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "reference"))
    import sp_proto
    with open(os.path.join(model_dir, "ice_text.model"), "rb") as f:
        pieces = sp_proto.pieces(f.read())
    words = [m.group(1) for m in (GLM_WORD.fullmatch(p[0]) for p in pieces) if m]
    if len(words) < 100:
        raise SystemExit(f"{model_dir}/ice_text.model has {len(words)} \u2581wN pieces; expected make_glm_model.py's")
    return words


def passage(rng, words, tokens):
    """Sentences of 8-20 words, each ending in '.', exactly `tokens` tokens in all."""
    out, left = [], tokens
    while left > 0:
        n = min(rng.randint(8, 20), left - 1) if left > 1 else 0
        if left - (n + 1) in range(1, 9):  # do not leave a stub shorter than a sentence: take it now
            n = left - 1
        sentence = " ".join(rng.choice(words) for _ in range(n))
        out.append(sentence + "." if sentence else ".")
        left -= n + 1
    return " ".join(out)


def samples(rng, words, count, passage_tokens, query_words, answer_words):
    return [{"id": f"bench-{i:04d}",
             "query": " ".join(rng.choice(words) for _ in range(rng.randint(*query_words))),
             "passage": passage(rng, words, rng.randint(*passage_tokens)),
             "answer": " ".join(rng.choice(words) for _ in range(rng.randint(*answer_words)))}
            for i in range(count)]


def plan(static_surrogate):
    def cond(name, placement, surrogate=None, **extra):
        c = {"name": name, "placement": placement}
        if surrogate is not None:
            c.update(surrogate=surrogate, separator="\n")
        c.update(rope_correction="HALF_SPLIT", query_free=False)
        c.update(extra)
        return c
    return {
        "experiment_id": "bench",
        "baseline": "bare",
        "query_template": "\n\nQuestion: {query}\nAnswer:",
        "query_free_template": "\n\nAnswer:",
        "answer_template": " {answer}",
        "conditions": [
            cond("bare", "NONE"),
            cond("oracle_full", "PREFIX_FULL", "{query}"),
            cond("oracle_trunc", "PREFIX_TRUNCATED", "{query}"),
            cond("oracle_suffix", "SUFFIX", "{query}"),
            cond("static_trunc", "PREFIX_TRUNCATED", static_surrogate),
            cond("static_suffix", "SUFFIX", static_surrogate),
            cond("bare_query_free", "NONE", query_free=True),
            cond("oracle_trunc_nocorr", "PREFIX_TRUNCATED", "{query}", rope_correction="NONE"),
        ],
    }


def glm_plan(static_surrogate):
    """exp 09's placements for the GLM family (every condition requires it)."""
    def cond(name, placement, surrogate=None, separator="\n\n", **extra):
        c = {"name": name, "placement": placement, "requires_family": "glm"}
        if surrogate is not None:
            c.update(surrogate=surrogate, separator=separator)
        c.update(rope_correction="HALF_SPLIT", query_free=False)
        c.update(extra)
        return c
    return {
        "experiment_id": "bench-glm",
        "baseline": "bare",
        "query_template": "\n\nQuestion: {query}\nAnswer:",
        "query_free_template": "\n\nAnswer:",
        "answer_template": " {answer}",
        "conditions": [
            cond("bare", "NONE"),
            cond("oracle_suffix", "SUFFIX", "{query}"),
            cond("static_suffix", "SUFFIX", static_surrogate),
            cond("oracle_full", "PREFIX_FULL", "{query}", separator="\n"),
            cond("oracle_trunc", "PREFIX_TRUNCATED", "{query}", separator="\n"),
            cond("static_trunc", "PREFIX_TRUNCATED", static_surrogate, separator="\n"),
            cond("bare_qf", "NONE", query_free=True),
            cond("oracle_suffix_qf", "SUFFIX", "{query}", query_free=True),
        ],
    }


def span(text):
    lo, hi = (int(x) for x in text.split(","))
    if not 0 < lo <= hi:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX with 0 < MIN <= MAX, found {text!r}")
    return lo, hi


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokenizer", required=True, help="model directory holding tokenizer.json (glm: ice_text.model)")
    p.add_argument("--family", choices=["decoder", "glm"], default="decoder",
                   help="decoder: make_model.py's word-level tokenizer and the causal plan; glm: make_glm_model.py's")
    p.add_argument("--out", required=True, help="samples JSONL to write")
    p.add_argument("--plan", help="plan JSON to write (default: plan.json next to --out)")
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--passage-tokens", type=span, default=(95, 105))
    p.add_argument("--query-words", type=span, default=(8, 10))
    p.add_argument("--answer-words", type=span, default=(9, 11))
    p.add_argument("--static-words", type=int, default=8)
    args = p.parse_args()

    glm = args.family == "glm"
    if glm:
        words = glm_vocabulary_words(args.tokenizer)
    else:
        tokenizer = Tokenizer.from_file(os.path.join(args.tokenizer, "tokenizer.json"))
        words = vocabulary_words(tokenizer)
    rng = random.Random(args.seed)
    static = " ".join(rng.choice(words) for _ in range(args.static_words))
    work = samples(rng, words, args.samples, args.passage_tokens, args.query_words, args.answer_words)
    plan_path = args.plan or os.path.join(os.path.dirname(os.path.abspath(args.out)), "plan.json")
    with open(args.out, "w") as f:
        for s in work:
            f.write(json.dumps(s) + "\n")
    with open(plan_path, "w") as f:
        json.dump(glm_plan(static) if glm else plan(static), f, indent=1)

    # check and report the lengths the benchmark will see
    conditions = load_plan(plan_path).conditions
    if glm:
        import glm_layout
        tok = glm_layout.tokenizer(args.tokenizer)
        layouts = [glm_layout.layout(tok, c, s) for s in work for c in conditions]
        ids = [lay.prompt_ids + lay.cont_ids for lay in layouts]
        unk = tok.sp.unk_id() + tok.num_image_tokens
    else:
        layouts = [layout(tokenizer, c, s) for s in work for c in conditions]
        ids = [lay.ids for lay in layouts]
        unk = tokenizer.token_to_id("<unk>")
    unknown = sum(t == unk for seq in ids for t in seq)
    if unknown:
        raise SystemExit(f"{unknown} <unk> tokens in the workload: the text uses words outside the vocabulary")
    summary = {"family": args.family, "samples": len(work), "conditions": len(conditions), "pairs": len(layouts),
               "tokens_per_pair": round(mean(len(seq) for seq in ids), 2),
               **{f"mean_{seg}": round(mean(getattr(lay, seg) for lay in layouts if getattr(lay, seg)), 2)
                  for seg in ("prefix", "doc", "suffix", "query", "answer")},
               "samples_file": args.out, "plan_file": plan_path}
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
