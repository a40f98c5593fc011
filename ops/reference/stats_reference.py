#!/usr/bin/env python3
"""Reference values for dkv's aggregator statistics, computed with NumPy/SciPy.

An independent implementation of DESIGN.md "Aggregator statistics" (and the aggregator issue's
rules) that the Java aggregator must reproduce:
  - stats_cases.json: per-array statistics (t-test, Wilcoxon, CI, correlations, multiple
    comparisons, confidence sequence, anytime p-value) on generated data with ties, zeros,
    heavy tails, small and large n;
  - scores_offline.jsonl + expected_offline.json: a score stream (missing records, duplicates,
    shuffled arrival, an oracle without effect) and the exact output of `dkv aggregate` on it.

Run:  /opt/refvenv/bin/python ops/reference/stats_reference.py
Writes into aggregator/src/test/resources/reference/ (committed).
"""
import json
import math
import os
import sys

import numpy as np
from scipy import stats

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "aggregator", "src", "test", "resources", "reference")
ALPHA = 0.05
HARD_THRESHOLD = 3.0
CS_MIN_N = 10  # the asymptotic confidence sequence is reported from 10 observations on
EXACT_WILCOXON_MAX_N = 25


def clean(x):
    """JSON has no NaN: undefined values are written as null."""
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return None if math.isnan(x) or math.isinf(x) else x
    if isinstance(x, np.integer):
        return int(x)
    return x


# ---------------------------------------------------------------- fixed-n statistics

def wilcoxon_p(d):
    """Zeros dropped; exact when n <= 25 with no ties, else normal approximation with tie and
    continuity correction (SciPy's own implementation, method chosen by the spec's rule)."""
    nz = d[d != 0]
    if nz.size == 0:
        return float("nan")
    ties = np.unique(np.abs(nz)).size < nz.size
    method = "exact" if (nz.size <= EXACT_WILCOXON_MAX_N and not ties) else "asymptotic"
    return float(stats.wilcoxon(nz, zero_method="wilcox", correction=True, method=method).pvalue)


def t_p(d):
    if d.size < 2 or np.std(d, ddof=1) == 0:
        return float("nan")
    return float(stats.ttest_1samp(d, 0.0).pvalue)


def describe(d):
    n = d.size
    mean = float(np.mean(d)) if n else float("nan")
    sd = float(np.std(d, ddof=1)) if n >= 2 else float("nan")
    if n >= 2 and sd > 0:
        half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
        ci = [mean - half, mean + half]
        dz = mean / sd
    else:
        ci = [float("nan"), float("nan")]
        dz = float("nan")
    return {
        "n": n,
        "mean_delta": mean,
        "sd_delta": sd,
        "ci95": ci,
        "cohen_dz": dz,
        "win_rate": float(np.mean(d > 0)) if n else float("nan"),
        "tie_rate": float(np.mean(d == 0)) if n else float("nan"),
        "t_p": t_p(d),
        "wilcoxon_p": wilcoxon_p(d),
    }


def bonferroni(ps):
    m = sum(1 for p in ps if not math.isnan(p))
    return [p if math.isnan(p) else min(1.0, p * m) for p in ps]


def holm(ps):
    idx = [i for i, p in enumerate(ps) if not math.isnan(p)]
    m = len(idx)
    order = sorted(idx, key=lambda i: ps[i])
    out = [float("nan")] * len(ps)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        out[i] = running
    return out


def quintile_means(reference_nll, delta):
    """Five equal groups (np.array_split sizes) of samples sorted by the reference NLL; the input is
    in sample-id order and the sort is stable, so ties in the reference NLL keep sample-id order."""
    order = np.argsort(reference_nll, kind="stable")
    groups = np.array_split(delta[order], 5)
    return [float(np.mean(g)) if g.size else float("nan") for g in groups]


# ---------------------------------------------------------------- confidence sequence

def rho_squared(alpha, n_star):
    l = -2.0 * math.log(alpha)
    return (l + math.log(l + 1.0)) / n_star


def cs_half_width(n, sd, alpha, n_star):
    """Waudby-Smith et al. asymptotic CS (GrowthBook's form), as written in the issue."""
    if n < CS_MIN_N or not sd > 0:
        return float("nan")
    r2 = rho_squared(alpha, n_star)
    return sd * math.sqrt(2.0 * (n * r2 + 1.0) / (n * n * r2) * math.log(math.sqrt(n * r2 + 1.0) / alpha))


def cs_p_bisect(n, mean, sd, alpha_design, n_star):
    """Smallest alpha whose CS (rho fixed by the design alpha) excludes 0, found numerically."""
    if n < CS_MIN_N or not sd > 0:
        return 1.0
    r2 = rho_squared(alpha_design, n_star)

    def half(a):
        return sd * math.sqrt(2.0 * (n * r2 + 1.0) / (n * n * r2) * math.log(math.sqrt(n * r2 + 1.0) / a))

    if abs(mean) <= half(1.0):
        return 1.0
    lo, hi = -745.0, 0.0  # log alpha
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if abs(mean) > half(math.exp(mid)):
            hi = mid
        else:
            lo = mid
    return math.exp(hi)


def cs_p_closed(n, mean, sd, alpha_design, n_star):
    r2 = rho_squared(alpha_design, n_star)
    if n < CS_MIN_N or not sd > 0:
        return 1.0
    return min(1.0, math.sqrt(n * r2 + 1.0) * math.exp(-(n * n * r2 * mean * mean) / (2.0 * sd * sd * (n * r2 + 1.0))))


class Anytime:
    """Running mean/sd of a stream and the running minimum of the always-valid p-value."""

    def __init__(self, null, n_star):
        self.null = null
        self.n_star = n_star
        self.values = []
        self.p_min = 1.0

    def add(self, x):
        self.values.append(x)
        v = np.array(self.values)
        if v.size >= CS_MIN_N:
            p = cs_p_closed(v.size, float(np.mean(v)) - self.null, float(np.std(v, ddof=1)), ALPHA, self.n_star)
            self.p_min = min(self.p_min, p)

    def interval(self):
        v = np.array(self.values)
        if v.size < 2:
            return [float("nan"), float("nan")]
        h = cs_half_width(v.size, float(np.std(v, ddof=1)), ALPHA, self.n_star)
        m = float(np.mean(v))
        return [m - h, m + h]


# ---------------------------------------------------------------- offline aggregation

def aggregate(lines, baseline, oracle, correlate, contrasts, n_star_override=None):
    """Mirror of `dkv aggregate`: first record of (experiment, sample, condition) wins; pairs enter
    the anytime monitors when they complete, in arrival order (conditions of a sample in order of
    first appearance in the experiment)."""
    experiments = {}
    for line in lines:
        r = json.loads(line)
        e = experiments.setdefault(r["experiment_id"], {"order": [], "nll": {}, "events": []})
        if r["condition"] not in e["order"]:
            e["order"].append(r["condition"])
        key = (r["sample_id"], r["condition"])
        if key in e["nll"]:
            continue
        e["nll"][key] = float(r["nll"])
        e["events"].append(key)

    result = {}
    for exp_id, e in experiments.items():
        nll = e["nll"]
        samples = sorted({s for s, _ in nll})
        n_star = n_star_override or len(samples)
        comparisons = [(c, c, baseline) for c in e["order"] if c != baseline]
        comparisons += [(name, a, b) for name, a, b in contrasts]
        # only comparisons whose conditions both occur in this experiment
        comparisons = [c for c in comparisons if c[1] in e["order"] and c[2] in e["order"]]
        # anytime monitors, fed in arrival order: a pair enters when its second record arrives
        mon = {name: (Anytime(0.0, n_star), Anytime(0.5, n_star)) for name, _, _ in comparisons}
        seen = set()
        for sample, cond in e["events"]:
            seen.add((sample, cond))
            for name, a, b in comparisons:
                if cond in (a, b) and (sample, a) in seen and (sample, b) in seen:
                    d = nll[(sample, b)] - nll[(sample, a)]
                    mon[name][0].add(d)
                    mon[name][1].add(1.0 if d > 0 else 0.0)

        def paired(a, b):
            ss = [s for s in samples if (s, a) in nll and (s, b) in nll]
            ref = np.array([nll[(s, b)] for s in ss])
            d = np.array([nll[(s, b)] - nll[(s, a)] for s in ss])
            return ss, ref, d

        block = {}
        for name, a, b in comparisons:
            ss, ref, d = paired(a, b)
            st = describe(d)
            st["cs"] = mon[name][0].interval()
            st["anytime_p"] = mon[name][0].p_min
            st["win_cs"] = mon[name][1].interval()
            st["win_anytime_p"] = mon[name][1].p_min
            st["quintile_mean_delta"] = quintile_means(ref, d)
            hard = d[ref > HARD_THRESHOLD]
            st["hard_n"] = int(hard.size)
            st["hard_mean_delta"] = float(np.mean(hard)) if hard.size else float("nan")
            block[name] = st
        ps = [block[name]["t_p"] for name, _, _ in comparisons]
        for name, bp, hp in zip([c[0] for c in comparisons], bonferroni(ps), holm(ps)):
            block[name]["bonferroni_p"] = bp
            block[name]["holm_p"] = hp
        oracle_mean = block[oracle]["mean_delta"] if oracle in block else float("nan")
        # the share divides by the oracle's effect: defined only where the oracle's 95% CI excludes 0
        oracle_ci = block[oracle]["ci95"] if oracle in block else [float("nan"), float("nan")]
        oracle_clear = oracle_ci[0] > 0 or oracle_ci[1] < 0
        conditions, contrast_block = {}, {}
        for name, a, b in comparisons:
            st = block[name]
            if b == baseline and name == a:
                st["oracle_gap_share"] = st["mean_delta"] / oracle_mean if oracle_clear else None
                conditions[name] = st
            else:
                contrast_block[name] = st
        correlations = {}
        for a, b in correlate:
            if a not in e["order"] or b not in e["order"]:
                continue
            ss = [s for s in samples if (s, baseline) in nll and (s, a) in nll and (s, b) in nll]
            da = np.array([nll[(s, baseline)] - nll[(s, a)] for s in ss])
            db = np.array([nll[(s, baseline)] - nll[(s, b)] for s in ss])
            correlations[f"{a}|{b}"] = {
                "n": len(ss),
                "pearson": float(stats.pearsonr(da, db).statistic),
                "spearman": float(stats.spearmanr(da, db).statistic),
            }
        result[exp_id] = {"conditions": conditions, "contrasts": contrast_block, "correlations": correlations}
    return result


# ---------------------------------------------------------------- generated data

def generate_scores(rng):
    records = []

    def emit(exp, sample, cond, nll):
        records.append({"experiment_id": exp, "sample_id": sample, "condition": cond, "nll": float(nll)})

    # exp-a: 300 samples; heavy tails, exact zeros, ties (2-decimal NLLs), missing records
    n = 300
    base = np.round(rng.gamma(4.0, 0.7, n), 2)  # ties in the baseline too; some > 3.0
    gen = 0.2 + 0.5 * rng.standard_t(3, n)
    for i in range(n):
        s = f"s{i:04d}"
        b = base[i]
        conds = {
            "bare": b,
            "oracle": b - (0.4 + 0.6 * rng.standard_t(2)),
            "generated": b - gen[i],
            "shuffled": b - (0.9 * gen[i] + 0.2 * rng.normal()),
            "suffix": b if rng.random() < 0.3 else round(b - 0.05 * rng.normal(), 2),
            "random": b - 0.8 * rng.standard_cauchy(),
        }
        for c, v in conds.items():
            if c != "bare" and rng.random() < 0.05:
                continue
            if c == "bare" and rng.random() < 0.02:
                continue
            emit("exp-a", s, c, v)

    # exp-b: 26 samples; "x" has 25 (exact path at the limit), "w" 26 without ties (normal path),
    # "y" has a zero and ties (normal path with tie correction)
    base_b = rng.normal(2.5, 0.8, 26)
    for i in range(26):
        s = f"b{i:02d}"
        emit("exp-b", s, "bare", base_b[i])
        if i != 7:
            emit("exp-b", s, "x", base_b[i] - rng.normal(0.3, 0.5))
        emit("exp-b", s, "w", base_b[i] - rng.normal(0.1, 0.5))
        dy = [0.0, 0.25, -0.25, 0.5, 0.5, -0.75][i % 6] if i < 12 else round(rng.normal(0.2, 0.4), 1)
        emit("exp-b", s, "y", base_b[i] - dy)

    # exp-c: 4 samples; quintiles with empty groups, a condition seen once
    for i in range(4):
        s = f"c{i}"
        emit("exp-c", s, "bare", 2.0 + i)
        emit("exp-c", s, "x", 2.0 + i - 0.1 * (i + 1))
    emit("exp-c", "c0", "lonely", 1.5)

    order = rng.permutation(len(records))
    lines = [json.dumps(records[i]) for i in order]
    # duplicates arrive later: identical re-deliveries and one conflicting value (first wins)
    for i in rng.choice(len(lines), 20, replace=False):
        lines.append(lines[i])
    conflict = json.loads(lines[3])
    conflict["nll"] = conflict["nll"] + 1.0
    lines.append(json.dumps(conflict))
    return lines + oracle_without_effect(np.random.default_rng(20261202))


def oracle_without_effect(rng):
    """exp-d: 40 samples whose oracle does nothing on average (its CI holds 0): no oracle-gap share at all.
    A generator of its own, so that adding it left exp-a..c's lines and expectations as they were."""
    lines = []
    for i in range(40):
        s = f"d{i:02d}"
        b = rng.normal(2.5, 0.6)
        for c, v in (("bare", b), ("oracle", b - rng.normal(0.0, 0.5)), ("generated", b - rng.normal(0.3, 0.3))):
            lines.append(json.dumps({"experiment_id": "exp-d", "sample_id": s, "condition": c, "nll": float(v)}))
    return lines


def stats_cases(rng):
    cases = []

    def add(name, d):
        d = np.asarray(d, dtype=float)
        c = {"name": name, "delta": d.tolist()}
        c.update(describe(d))
        cases.append(c)

    add("exact_n5", rng.normal(0.5, 1.0, 5))
    add("exact_n12", rng.normal(0.2, 1.0, 12))
    add("exact_n25", rng.normal(-0.1, 1.0, 25))
    add("normal_n26_no_ties", rng.normal(0.1, 1.0, 26))
    add("ties_small", [0.5, 0.5, -0.5, 1.0, 1.5, 1.5, 1.5, -2.0, 0.25, 3.0])
    add("zeros_and_ties", np.round(rng.normal(0.1, 0.3, 40), 1))
    add("zeros_exact_after_drop", [0.0, 0.0, 0.3, -0.1, 0.7, 1.1, -0.4, 0.9, 0.2])
    add("all_positive_n8", [0.1, 0.4, 0.2, 0.9, 1.3, 0.7, 0.05, 2.0])
    add("heavy_cauchy_n400", rng.standard_cauchy(400) + 0.1)
    add("heavy_t2_n2000", rng.standard_t(2, 2000) * 0.5 + 0.03)
    add("large_n5000", rng.normal(0.01, 1.0, 5000))

    corr = []
    for name, n, rho, ties in [("n30", 30, 0.8, False), ("n500_ties", 500, 0.9, True), ("n2000_heavy", 2000, 0.3, False)]:
        x = rng.standard_t(3, n)
        y = rho * x + math.sqrt(1 - rho * rho) * rng.standard_t(3, n)
        if ties:
            x, y = np.round(x, 1), np.round(y, 1)
        corr.append({"name": name, "x": x.tolist(), "y": y.tolist(),
                     "pearson": float(stats.pearsonr(x, y).statistic),
                     "spearman": float(stats.spearmanr(x, y).statistic)})

    ps = [0.01, 0.04, float("nan"), 0.03, 0.2, 0.0005, 0.04]
    multiple = {"p": ps, "bonferroni": bonferroni(ps), "holm": holm(ps)}

    quint = []
    for name, n in [("n3", 3), ("n7", 7), ("n103_ties", 103)]:
        ref = np.round(rng.gamma(3.0, 1.0, n), 0 if n > 50 else 3)
        d = rng.normal(0.1, 0.5, n)
        quint.append({"name": name, "reference": ref.tolist(), "delta": d.tolist(),
                      "quintile_mean_delta": quintile_means(ref, d)})

    cs = []
    for n, mean, sd, n_star in [(2, 0.3, 1.0, 100), (10, 0.2, 0.5, 100), (12, 0.9, 0.6, 100), (100, 0.05, 1.0, 1000),
                                (1000, 0.08, 1.0, 1000), (5000, -0.02, 0.7, 1000), (300, 0.6, 2.0, 50)]:
        half = cs_half_width(n, sd, ALPHA, n_star)
        p_closed = cs_p_closed(n, mean, sd, ALPHA, n_star)
        p_bisect = cs_p_bisect(n, mean, sd, ALPHA, n_star)
        # the closed form and the numerical definition agree, and p < alpha exactly when the CS excludes 0
        assert abs(p_closed - p_bisect) <= 1e-9 * max(p_closed, 1e-300) or (p_closed == 1.0 and p_bisect == 1.0), (p_closed, p_bisect)
        assert (p_closed < ALPHA) == (abs(mean) > half) or math.isnan(half)
        cs.append({"n": n, "mean": mean, "sd": sd, "alpha": ALPHA, "n_star": n_star,
                   "lo": mean - half, "hi": mean + half, "p": p_closed})
    return {"cases": cases, "correlations": corr, "multiple": multiple, "quintiles": quint, "confidence_sequence": cs}


def main():
    rng = np.random.default_rng(20261123)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "stats_cases.json"), "w") as f:
        json.dump(clean(stats_cases(rng)), f)
    lines = generate_scores(rng)
    with open(os.path.join(OUT, "scores_offline.jsonl"), "w") as f:
        f.write("\n".join(lines) + "\n")
    expected = aggregate(lines, baseline="bare", oracle="oracle",
                         correlate=[("generated", "shuffled"), ("oracle", "random")],
                         contrasts=[("generated_vs_shuffled", "generated", "shuffled")])
    with open(os.path.join(OUT, "expected_offline.json"), "w") as f:
        json.dump(clean(expected), f, indent=1)
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
