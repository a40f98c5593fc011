"""Compares dkv's score records with the HF reference (demo/reference/nll.jsonl), pair by pair.

    python3 ops/demo/compare_scores.py /tmp/java.jsonl [--reference demo/reference/nll.jsonl]
        [--plan demo/plan.json] [--tolerance 1e-4]

The Java records are `dkv score --out` lines (`sample_id`, `condition`, `nll`, `segment_tokens` with
`document`). Conditions whose surrogate is `shuffled` are reported but not judged: dkv's producer
and the reference shuffle with different RNGs. Exits 1 when a judged pair differs by more than the
tolerance, has other segment token counts, or is missing. Standard library only.
"""

import argparse
import json
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
SEGMENTS = ("bos", "prefix", "doc", "suffix", "query", "answer")


def read_jsonl(path):
    records = {}
    for number, line in enumerate(pathlib.Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            records[(r["sample_id"], r["condition"])] = r
        except (json.JSONDecodeError, KeyError) as e:
            raise SystemExit(f"{path}:{number}: not a score record ({e})")
    return records


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores")
    parser.add_argument("--reference", default=str(REPO / "demo" / "reference" / "nll.jsonl"))
    parser.add_argument("--plan", default=str(REPO / "demo" / "plan.json"))
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()

    plan = json.loads(pathlib.Path(args.plan).read_text())
    unjudged = {c["name"] for c in plan["conditions"] if c.get("surrogate_kind") == "shuffled"}
    reference, scores = read_jsonl(args.reference), read_jsonl(args.scores)
    failures = 0
    print(f"{'condition':26s} {'pairs':>5s} {'max |Δ nll|':>12s} {'segment diffs':>13s}")
    for condition in [c["name"] for c in plan["conditions"]]:
        keys = [k for k in reference if k[1] == condition]
        missing = [k for k in keys if k not in scores]
        present = [k for k in keys if k in scores]
        worst = max((abs(reference[k]["nll_mean"] - scores[k]["nll"]) for k in present), default=0.0)
        segment_diffs = 0
        for k in present:
            theirs = dict(scores[k].get("segment_tokens", {}))
            theirs["doc"] = theirs.pop("document", theirs.get("doc"))
            segment_diffs += any(reference[k]["segment_tokens"][s] != theirs.get(s) for s in SEGMENTS)
        judged = condition not in unjudged
        bad = judged and (missing or worst > args.tolerance or segment_diffs)
        failures += bool(bad)
        note = "not judged (shuffle differs)" if not judged else ("FAIL" if bad else "ok")
        print(f"{condition:26s} {len(present):5d} {worst:12.2e} {segment_diffs:13d}  {note}"
              + (f", {len(missing)} missing" if missing else ""))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
