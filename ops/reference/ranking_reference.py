#!/usr/bin/env python3
"""Reference values for dkv's ranking statistics (DESIGN.md "Ranking experiments").

An independent implementation the Java aggregator must reproduce on a generated stream of ranking
scores (one record per experiment x query x candidate x condition):
  - per query and condition: candidates ranked by NLL ascending, ties by candidate_id; AUC with
    scikit-learn's roc_auc_score on score = -NLL (relevant = relevance > 0, ties count 1/2);
    MRR@10 (first relevant candidate) and nDCG@10 (linear gain, log2 discount, ideal from all
    candidates), written out here; queries with one class are excluded from AUC and counted,
    queries without a relevant candidate from MRR/nDCG;
  - per condition the means over queries; per comparison with the baseline, paired over queries,
    delta = metric(condition) - metric(baseline), rounded to 12 decimals: n, mean, scipy ttest_rel p, Wilcoxon p (zeros
    dropped, stats_reference.py's rule: exact iff <= 25 non-zero values without tied magnitudes),
    and the sign-flip randomization p: exact enumeration when 2^m <= 10000 (m non-zero deltas; the
    script checks it against scipy.stats.permutation_test), else a close estimate (exact
    enumeration up to m = 20, 2,000,000 random flips beyond) with its standard error, because the
    Java test draws its own seeded stream.

The stream has duplicates (first record wins, also when its NLL differs), missing records (an
incomplete query is not ranked under that condition), shuffled arrival, tied NLLs, graded ESCI-like
relevance 1/0.1/0.01/0, and queries with only relevant or no relevant candidates.

Run:  /opt/refvenv/bin/python ops/reference/ranking_reference.py
Writes aggregator/src/test/resources/reference/{ranking_scores.jsonl,expected_ranking.json} (committed).
"""
import itertools
import json
import math
import os
import sys

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(__file__))
from stats_reference import clean, wilcoxon_p  # noqa: E402  (one Wilcoxon rule for both fixtures)

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "aggregator", "src", "test", "resources", "reference")
CUTOFF = 10
RESAMPLES = 10_000
SLACK = 1e-10  # relative slack on |sum| comparisons, as SignFlipTest.RELATIVE_SLACK
METRICS = ("auc", "mrr_at_10", "ndcg_at_10")


# ---------------------------------------------------------------- per-query metrics

def ranked(cands):
    """cands: list of (candidate_id, nll, relevance); NLL ascending, ties by id."""
    return sorted(cands, key=lambda c: (c[1], c[0]))


def auc(cands):
    y = np.array([c[2] > 0 for c in cands])
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, -np.array([c[1] for c in cands])))


def mrr(cands):
    if not any(c[2] > 0 for c in cands):
        return float("nan")
    for rank, c in enumerate(ranked(cands)[:CUTOFF], start=1):
        if c[2] > 0:
            return 1.0 / rank
    return 0.0


def ndcg(cands):
    def dcg(gains):
        return sum(g / math.log2(i + 2) for i, g in enumerate(gains[:CUTOFF]))

    ideal = dcg(sorted((c[2] for c in cands), reverse=True))
    if ideal <= 0:
        return float("nan")
    return dcg([c[2] for c in ranked(cands)]) / ideal


# ---------------------------------------------------------------- comparisons

def t_p(d):
    # the aggregator's convention (stats_reference.py): undefined below 2 values or at zero spread
    if d.size < 2 or np.std(d, ddof=1) == 0:
        return float("nan")
    return float(stats.ttest_rel(d, np.zeros_like(d)).pvalue)


def sign_patterns_hits(nz, threshold, chunk=1 << 16):
    m = nz.size
    hits = 0
    for start in range(0, 1 << m, chunk):
        codes = np.arange(start, min(start + chunk, 1 << m), dtype=np.int64)
        signs = 1 - 2 * ((codes[:, None] >> np.arange(m)) & 1)
        hits += int(np.count_nonzero(np.abs(signs @ nz) >= threshold))
    return hits


def randomization(d, rng):
    """(p, exact_in_java, standard_error_of_this_reference)."""
    nz = d[d != 0]
    m = nz.size
    if m == 0:
        return float("nan"), True, 0.0
    threshold = abs(nz.sum()) - SLACK * np.abs(nz).sum()
    if (1 << m) <= RESAMPLES:
        p = sign_patterns_hits(nz, threshold) / (1 << m)
        check = stats.permutation_test((nz,), lambda x, axis: np.mean(x, axis=axis), permutation_type="samples",
                                       n_resamples=np.inf, alternative="two-sided")
        assert abs(check.pvalue - p) < 1e-12 or (p == 1.0 and check.pvalue >= 1.0), (p, check.pvalue)
        return p, True, 0.0
    if m <= 20:
        return sign_patterns_hits(nz, threshold) / (1 << m), False, 0.0
    draws = 2_000_000
    hits = 0
    for _ in range(draws // 100_000):
        signs = rng.choice((-1.0, 1.0), size=(100_000, m))
        hits += int(np.count_nonzero(np.abs(signs @ nz) >= threshold))
    p = hits / draws
    return p, False, math.sqrt(max(p * (1 - p), 1e-12) / draws)


# ---------------------------------------------------------------- aggregation

def aggregate(lines, baseline, rng):
    experiments = {}
    for line in lines:
        r = json.loads(line)
        e = experiments.setdefault(r["experiment_id"], {"order": [], "nll": {}, "relevance": {}})
        if r["condition"] not in e["order"]:
            e["order"].append(r["condition"])
        query = r.get("query_id", r["sample_id"])
        key = (query, r["candidate_id"], r["condition"])
        if key in e["nll"]:
            continue  # first record wins
        e["nll"][key] = float(r["nll"])
        e["relevance"].setdefault((query, r["candidate_id"]), float(r["relevance"]))

    result = {}
    for exp_id, e in experiments.items():
        conditions = e["order"]
        queries = sorted({q for q, _ in e["relevance"]})
        candidates_of = {q: sorted(c for qq, c in e["relevance"] if qq == q) for q in queries}
        values = {m: {c: {} for c in conditions} for m in METRICS}
        one_class = no_relevant = complete = 0
        for q in queries:
            rel = [e["relevance"][(q, c)] for c in candidates_of[q]]
            positives = sum(r > 0 for r in rel)
            no_relevant += positives == 0
            one_class += positives == 0 or positives == len(rel)
            ranked_under = 0
            for cond in conditions:
                if not all((q, c, cond) in e["nll"] for c in candidates_of[q]):
                    continue
                ranked_under += 1
                cands = [(c, e["nll"][(q, c, cond)], e["relevance"][(q, c)]) for c in candidates_of[q]]
                for name, f in (("auc", auc), ("mrr_at_10", mrr), ("ndcg_at_10", ndcg)):
                    v = f(cands)
                    if not math.isnan(v):
                        values[name][cond][q] = v
            complete += ranked_under == len(conditions)

        def mean(d):
            return float(np.mean(list(d.values()))) if d else float("nan")

        per_condition = {c: {"queries": len(values["mrr_at_10"][c]), "auc": mean(values["auc"][c]),
                             "auc_queries": len(values["auc"][c]), "mrr_at_10": mean(values["mrr_at_10"][c]),
                             "ndcg_at_10": mean(values["ndcg_at_10"][c])} for c in conditions}
        comparisons = {}
        for cond in conditions:
            if cond == baseline:
                continue
            comparisons[cond] = {}
            for metric in METRICS:
                of, ref = values[metric][cond], values[metric][baseline]
                both = [q for q in queries if q in of and q in ref]
                # rounded to 12 decimals as RankingTable.snap: zeros and tied |delta| must not hinge on an ulp
                d = np.array([np.rint((of[q] - ref[q]) * 1e12) / 1e12 for q in both])
                p, exact, se = randomization(d, rng)
                comparisons[cond][metric] = {
                    "n": len(both),
                    "mean_delta": float(np.mean(d)) if d.size else float("nan"),
                    "t_p": t_p(d),
                    "wilcoxon_p": wilcoxon_p(d),
                    "randomization_p": p,
                    "randomization_exact": exact,
                    "randomization_reference_se": se,
                }
        result[exp_id] = {"queries": len(queries), "complete_queries": complete,
                          "candidates": sum(len(v) for v in candidates_of.values()),
                          "one_class_queries": one_class, "no_relevant_queries": no_relevant,
                          "conditions": per_condition, "comparisons": comparisons}
    return result


# ---------------------------------------------------------------- generated data

def generate(rng):
    records = []

    def emit(exp, query, candidate, cond, nll, relevance):
        records.append({"experiment_id": exp, "sample_id": query, "query_id": query, "candidate_id": candidate,
                        "condition": cond, "nll": float(nll), "relevance": relevance})

    # msmarco-like: 40 queries x 10 passages, one selected (a few with none or two), answer likelihood
    effects = {"bare": 0.0, "oracle": 0.35, "static": 0.1, "random": -0.05}
    for i in range(40):
        q = f"q{i:03d}"
        selected = set() if i % 13 == 5 else ({0, 3} if i % 11 == 2 else {int(rng.integers(10))})
        for j in range(10):
            rel = 1.0 if j in selected else 0.0
            base = rng.gamma(4.0, 0.6) - (0.6 if rel else 0.0)
            for cond, effect in effects.items():
                if (i, cond) in {(7, "static"), (19, "random")} and j == 4:
                    continue  # an incomplete query under one condition
                emit("rank-msmarco", q, f"p{j}", cond, base - effect * rel + 0.15 * rng.normal(), rel)

    # esci-like: graded relevance, 2-30 candidates, NLL rounded (ties), query likelihood
    grades = [1.0, 0.1, 0.01, 0.0]
    for i in range(25):
        q = f"esci-{i:02d}"
        n = int(rng.integers(2, 31))
        labels = rng.choice(4, size=n, p=[0.5, 0.2, 0.1, 0.2])
        if i == 3:
            labels[:] = 0  # every candidate exact: one class, still ranked for MRR/nDCG
        for j in range(n):
            rel = grades[labels[j]]
            base = rng.normal(3.0, 0.5) - 0.4 * rel
            for cond, effect in {"bare": 0.0, "oracle": 0.2, "keywords": 0.05}.items():
                emit("rank-esci", q, f"B{j:03d}", cond, round(base - effect * rel + 0.1 * rng.normal(), 1), rel)

    # tiny: few queries, so the randomization test is exact; one condition identical to the baseline
    for i in range(6):
        q = f"t{i}"
        for j in range(4):
            rel = 1.0 if j == i % 4 else 0.0
            base = 2.0 + 0.3 * j + 0.01 * i
            emit("rank-tiny", q, f"c{j}", "bare", base, rel)
            emit("rank-tiny", q, f"c{j}", "same", base, rel)
            emit("rank-tiny", q, f"c{j}", "better", base - (0.5 + 0.1 * i) * rel, rel)

    order = rng.permutation(len(records))
    lines = [json.dumps(records[i]) for i in order]
    for i in rng.choice(len(lines), 25, replace=False):
        lines.append(lines[i])  # re-deliveries
    conflict = json.loads(lines[11])
    conflict["nll"] += 5.0  # a conflicting duplicate: ignored, the first record wins
    lines.append(json.dumps(conflict))
    return lines


def main():
    rng = np.random.default_rng(20261202)
    os.makedirs(OUT, exist_ok=True)
    lines = generate(rng)
    with open(os.path.join(OUT, "ranking_scores.jsonl"), "w") as f:
        f.write("\n".join(lines) + "\n")
    expected = aggregate(lines, "bare", rng)
    with open(os.path.join(OUT, "expected_ranking.json"), "w") as f:
        json.dump(clean(expected), f, indent=1)
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
