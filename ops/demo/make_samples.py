"""Writes demo/samples.jsonl: the synthetic MS MARCO-shaped sample set that `dkv demo` streams.

    python3 ops/demo/make_samples.py [--n 200] [--seed 7] [--out demo/samples.jsonl]
    python3 ops/demo/make_samples.py --pool train --seed 99 --out /tmp/heldout.jsonl   # held-out set of the training pool

Deterministic: the same seed writes the same bytes. Entities come from the 'demo' name pool, which is
disjoint from the pool the tiny model was trained on (see synthetic.py). Needs only the standard library.
"""

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import synthetic  # noqa: E402

DEMO_SEED = 7


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=DEMO_SEED)
    parser.add_argument("--pool", choices=["demo", "train"], default="demo",
                        help="entity pool: 'train' writes samples from the model's training pool (held-out evaluation)")
    parser.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parents[2] / "demo" / "samples.jsonl"))
    args = parser.parse_args()
    samples = synthetic.make_samples(args.n, args.seed, pool=args.pool,
                                     id_prefix="demo" if args.pool == "demo" else "heldout")
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="\n") as f:
        for sample in samples:
            f.write(json.dumps(sample, ensure_ascii=False) + "\n")
    print(f"wrote {len(samples)} samples to {out}")


if __name__ == "__main__":
    main()
