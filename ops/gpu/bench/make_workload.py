#!/usr/bin/env python3
"""Writes the benchmark workload: MS MARCO-like samples in dkv's generic JSONL (id, query, passage, answer)
and plan.json with 8 conditions, in dkv's plan format (what `dkv score --plan` reads).

--layout decoder (default; the decoder-only benchmark): lengths follow DESIGN.md "Performance targets"
(~100-token passage, 5-10-token surrogates, ~20-token QUERY segment, ~10-token answer). Text is words of the
benchmark tokenizer's vocabulary (one word = one token, see make_model.py): passages are sentences ending in
".", queries are 8-10 words (the oracle surrogate is the query, so it stays within 5-10 tokens; with the
"\\n\\nQuestion: ...\\nAnswer:" template the QUERY segment is 15-17 tokens), answers 9-11 words, the static
surrogate 8 fixed words.

--layout t5gemma-v3 (the encoder-decoder benchmark, RESEARCH-FACTS.md "T5Gemma 2 (v3)", exp 01 style):
passages of 30-300 words (log-uniform, stratified, so the mean is ~117 words, ~127 tokens with the sentence
stops; MS MARCO's passages are skewed short the same way), queries 5-9 words, answers 5-13 words; answer-only decoder
(query_free, query_free_template "", answer_template "{answer}": decoder BOS + answer, ~10 tokens), every
condition requires_family "t5gemma2" (dkv's family name), separator "\\n". Conditions: bare (NONE), oracle
full/masked (ENCODER_COENCODE / ENCODER_COENCODE_MASKED with the query), static full/masked (8 fixed words),
keywords full/masked (surrogate_kind frequent_words, k 5: v3's doc keywords), random masked (20 fixed random
words: a static surrogate, since dkv's per-sample random_passage draws from its own seeded generator, which the
HF side would have to replicate; the compute is the same). 8 conditions, 5 distinct encoder inputs per sample.

The lengths are checked by laying out every pair with the tokenizer and printed.

  python make_workload.py --tokenizer MODEL_DIR --out work.jsonl [--plan plan.json] --samples 32 --seed 42
  python make_workload.py --layout t5gemma-v3 --tokenizer T5_MODEL_DIR --out work.jsonl --samples 96

--family glm: the same samples over the words of make_glm_model.py's ice_text.model (word wN = one piece
"\u2581wN" after a space), and the GLM plan (exp 09's placements, DESIGN.md "Prefix-LM layout"): bare, oracle and
static SUFFIX (separator "\n\n", inside the bidirectional TEXT), oracle PREFIX_FULL, oracle and static
PREFIX_TRUNCATED (HALF_SPLIT), and the query-free bare and oracle suffix; lengths checked with glm_layout.py.
"""
import math
import argparse
import json
import os
import random
import re
import sys
from statistics import mean

from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_layout import layout, layout_encdec, load_plan  # noqa: E402

FAMILY = "t5gemma2"  # dkv's T5Gemma 2 family (requires_family)

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


def passage_of_words(rng, words, n):
    """Sentences of 8-20 words, each ending in '.', exactly n words (n plus the number of sentences tokens)."""
    out, left = [], n
    while left > 0:
        k = min(rng.randint(8, 20), left)
        if 0 < left - k < 8:  # no stub shorter than a sentence: take it now
            k = left
        out.append(" ".join(rng.choice(words) for _ in range(k)) + ".")
        left -= k
    return " ".join(out)


def log_uniform_lengths(rng, count, lo, hi):
    """count lengths in [lo, hi], log-uniform and stratified (one per 1/count quantile band, shuffled), so that
    even a small workload has the distribution's mean ((hi - lo) / ln(hi / lo): ~117 for 30-300)."""
    out = [min(hi, max(lo, round(lo * (hi / lo) ** ((i + rng.random()) / count)))) for i in range(count)]
    rng.shuffle(out)
    return out


def samples(rng, words, count, passage_tokens, query_words, answer_words):
    return [{"id": f"bench-{i:04d}",
             "query": " ".join(rng.choice(words) for _ in range(rng.randint(*query_words))),
             "passage": passage(rng, words, rng.randint(*passage_tokens)),
             "answer": " ".join(rng.choice(words) for _ in range(rng.randint(*answer_words)))}
            for i in range(count)]


def samples_v3(rng, words, count, passage_words, query_words, answer_words):
    lengths = log_uniform_lengths(rng, count, *passage_words)
    return [{"id": f"bench-{i:04d}",
             "query": " ".join(rng.choice(words) for _ in range(rng.randint(*query_words))),
             "passage": passage_of_words(rng, words, lengths[i]),
             "answer": " ".join(rng.choice(words) for _ in range(rng.randint(*answer_words)))}
            for i in range(count)]


def plan_v3(static_surrogate, random_surrogate, keywords=5):
    """v3 exp 01 style for T5Gemma 2: the answer alone in the decoder, the surrogate co-encoded (visible or
    masked from cross attention)."""
    def cond(name, placement, surrogate=None, **extra):
        c = {"name": name, "placement": placement}
        if surrogate is not None:
            c["surrogate"] = surrogate
        c.update(extra)
        c.update(requires_family=FAMILY, query_free=True, query_free_template="", answer_template="{answer}")
        return c
    kw = {"surrogate_kind": "frequent_words", "k": keywords}
    return {
        "experiment_id": "bench-t5gemma-v3",
        "baseline": "bare",
        "separator": "\n",
        "conditions": [
            cond("bare", "NONE"),
            cond("oracle_full", "ENCODER_COENCODE", "{query}"),
            cond("oracle_masked", "ENCODER_COENCODE_MASKED", "{query}"),
            cond("static_full", "ENCODER_COENCODE", static_surrogate),
            cond("static_masked", "ENCODER_COENCODE_MASKED", static_surrogate),
            cond("keywords_full", "ENCODER_COENCODE", **kw),
            cond("keywords_masked", "ENCODER_COENCODE_MASKED", **kw),
            cond("random_masked", "ENCODER_COENCODE_MASKED", random_surrogate),
        ],
    }


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


def summary_decoder(tokenizer, work, conditions):
    layouts = [layout(tokenizer, c, s) for s in work for c in conditions]
    unknown = sum(t == tokenizer.token_to_id("<unk>") for lay in layouts for t in lay.ids)
    if unknown:
        raise SystemExit(f"{unknown} <unk> tokens in the workload: the text uses words outside the vocabulary")
    return {"samples": len(work), "conditions": len(conditions), "pairs": len(layouts),
            "tokens_per_pair": round(mean(len(lay.ids) for lay in layouts), 2),
            **{f"mean_{seg}": round(mean(getattr(lay, seg) for lay in layouts if getattr(lay, seg)), 2)
               for seg in ("prefix", "doc", "suffix", "query", "answer")}}


def summary_glm(model_dir, work, conditions):
    import glm_layout
    tok = glm_layout.tokenizer(model_dir)
    layouts = [glm_layout.layout(tok, c, s) for s in work for c in conditions]
    ids = [lay.prompt_ids + lay.cont_ids for lay in layouts]
    unk = tok.sp.unk_id() + tok.num_image_tokens
    unknown = sum(t == unk for seq in ids for t in seq)
    if unknown:
        raise SystemExit(f"{unknown} <unk> tokens in the workload: the text uses words outside the vocabulary")
    return {"samples": len(work), "conditions": len(conditions), "pairs": len(layouts),
            "tokens_per_pair": round(mean(len(seq) for seq in ids), 2),
            **{f"mean_{seg}": round(mean(getattr(lay, seg) for lay in layouts if getattr(lay, seg)), 2)
               for seg in ("prefix", "doc", "suffix", "query", "answer")}}


def summary_encdec(tokenizer, work, conditions):
    layouts = [layout_encdec(tokenizer, c, s) for s in work for c in conditions]
    unk = tokenizer.token_to_id("<unk>")
    unknown = sum(t == unk for lay in layouts for t in lay.enc_ids + lay.dec_ids)
    if unknown:
        raise SystemExit(f"{unknown} <unk> tokens in the workload: the text uses words outside the vocabulary")
    distinct = {lay.enc_ids for lay in layouts}
    words = [len(s["passage"].split()) for s in work]
    return {"samples": len(work), "conditions": len(conditions), "pairs": len(layouts),
            "tokens_per_pair": round(mean(len(lay.enc_ids) + len(lay.dec_ids) for lay in layouts), 2),
            "encoder_tokens_per_pair": round(mean(len(lay.enc_ids) for lay in layouts), 2),
            "decoder_tokens_per_pair": round(mean(len(lay.dec_ids) for lay in layouts), 2),
            "distinct_encoder_inputs": len(distinct),
            "distinct_encoder_inputs_per_sample": round(len(distinct) / len(work), 2),
            "distinct_encoder_tokens_per_sample": round(sum(len(e) for e in distinct) / len(work), 1),
            "passage_words": {"min": min(words), "mean": round(mean(words), 1), "max": max(words)},
            **{f"mean_{seg}": round(mean([getattr(lay, seg) for lay in layouts if getattr(lay, seg)] or [0]), 2)
               for seg in ("prefix", "doc", "query", "answer")},
            "mean_hidden_from_cross": round(mean(len(lay.hidden) for lay in layouts), 2)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokenizer", required=True, help="model directory holding tokenizer.json (glm: ice_text.model)")
    p.add_argument("--family", choices=["decoder", "glm"], default="decoder",
                   help="decoder: make_model.py's word-level tokenizer and the causal plan; glm: make_glm_model.py's")
    p.add_argument("--out", required=True, help="samples JSONL to write")
    p.add_argument("--plan", help="plan JSON to write (default: plan.json next to --out)")
    p.add_argument("--layout", choices=["decoder", "t5gemma-v3"], default="decoder",
                   help="decoder: the decoder-only benchmark; t5gemma-v3: the encoder-decoder one (v3 lengths)")
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--passage-tokens", type=span, default=(95, 105), help="decoder layout")
    p.add_argument("--passage-words", type=span, default=(30, 300), help="t5gemma-v3 layout (log-uniform)")
    p.add_argument("--query-words", type=span, default=None, help="default 8,10 (decoder), 5,9 (t5gemma-v3)")
    p.add_argument("--answer-words", type=span, default=None, help="default 9,11 (decoder), 5,13 (t5gemma-v3)")
    p.add_argument("--static-words", type=int, default=8)
    p.add_argument("--random-words", type=int, default=20, help="t5gemma-v3: the random surrogate's length")
    args = p.parse_args()
    v3 = args.layout == "t5gemma-v3"
    if v3 and args.family == "glm":
        p.error("--layout t5gemma-v3 is the T5Gemma 2 workload; it does not combine with --family glm")
    query_words = args.query_words or ((5, 9) if v3 else (8, 10))
    answer_words = args.answer_words or ((5, 13) if v3 else (9, 11))

    glm = args.family == "glm"
    if glm:
        words = glm_vocabulary_words(args.tokenizer)
    else:
        tokenizer = Tokenizer.from_file(os.path.join(args.tokenizer, "tokenizer.json"))
        words = vocabulary_words(tokenizer)
    rng = random.Random(args.seed)
    static = " ".join(rng.choice(words) for _ in range(args.static_words))
    if v3:
        random_surrogate = " ".join(rng.choice(words) for _ in range(args.random_words))
        work = samples_v3(rng, words, args.samples, args.passage_words, query_words, answer_words)
        the_plan = plan_v3(static, random_surrogate)
    else:
        work = samples(rng, words, args.samples, args.passage_tokens, query_words, answer_words)
        the_plan = glm_plan(static) if glm else plan(static)
    plan_path = args.plan or os.path.join(os.path.dirname(os.path.abspath(args.out)), "plan.json")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        for s in work:
            f.write(json.dumps(s) + "\n")
    with open(plan_path, "w") as f:
        json.dump(the_plan, f, indent=1)

    # check and report the lengths the benchmark will see
    conditions = load_plan(plan_path).conditions
    if glm:
        summary = summary_glm(args.tokenizer, work, conditions)
    else:
        summary = (summary_encdec if v3 else summary_decoder)(tokenizer, work, conditions)
    summary.update(family=args.family, layout=args.layout, samples_file=args.out, plan_file=plan_path)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
