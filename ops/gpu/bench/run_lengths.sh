#!/usr/bin/env bash
# Issue 17's long-document measurement in one GPU call: decoder-only throughput against document length, dkv
# `dkv score` side by side with HF's best padded batches, on the Mistral-7B-shaped bench model (run.sh's), one
# workload per passage length (make_workload.py --passage-tokens L-4%,L+4%; the 8 bench conditions, so each pair
# is the passage plus ~32 tokens of surrogate, query and answer). HF runs batched only (no batch-1 research loop);
# its batch sizes shrink with the length so that padded batches fit. Per length: $OUT/len-L/ (run.sh's files);
# all lengths: $OUT/lengths.txt and $OUT/lengths.json.
#
# Usage (repository root, after `source ops/gpu/unpack.sh`):  ops/gpu/bench/run_lengths.sh [300,512,1024,2048]
# Optional env: as run.sh (DKV_BENCH_MODEL_DIR, DKV_DEVICE, DKV_PYTHON, ...), DKV_BENCH_LENGTH_SAMPLES (32 up to
#   512 tokens, 16 beyond), DKV_BENCH_JAVA_REPEAT (4).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${DKV_PYTHON:-/opt/torch/.venv/bin/python}
OUT=${OUT:-/tmp/dkv-bench-out}
lengths=${1:-300,512,1024,2048}
mkdir -p "$OUT"
status=0
for L in ${lengths//,/ }; do
  lo=$((L * 96 / 100)); hi=$((L * 104 / 100))
  if ((L <= 512)); then sizes=32,64,128; samples=32
  elif ((L <= 1024)); then sizes=16,32,64; samples=16
  else sizes=8,16,32; samples=16; fi
  echo "== length $L ($lo-$hi passage tokens, HF batch sizes $sizes)"
  OUT=$OUT/len-$L DKV_BENCH_HF_MODES=batched DKV_BENCH_BATCH_SIZES=$sizes \
    DKV_BENCH_SAMPLES=${DKV_BENCH_LENGTH_SAMPLES:-$samples} DKV_BENCH_JAVA_REPEAT=${DKV_BENCH_JAVA_REPEAT:-4} \
    DKV_BENCH_WORKLOAD_ARGS="--passage-tokens $lo,$hi" "$here/run.sh" > "$OUT/len-$L.log" 2>&1 || status=1
  tail -n 12 "$OUT/len-$L.log"
done
"$py" - "$OUT" "$lengths" <<'PY' | tee "$OUT/lengths.txt"
import json, os, sys
out, lengths = sys.argv[1], sys.argv[2].split(",")
table = []
print(f"{'passage':>8} {'tok/pair':>9} {'HF batched':>22} {'dkv':>10} {'dkv/HF':>7} {'floor':>8} {'dkv/floor':>9} {'max|dNLL|':>9}")
for L in lengths:
    path = os.path.join(out, f"len-{L}", "compare.json")
    if not os.path.exists(path):
        print(f"{L:>8} (no compare.json: see len-{L}.log)")
        continue
    c = json.load(open(path))
    rows = {r["name"].split(" (")[0]: r for r in c["rows"]}
    hf = next(r for r in c["rows"] if r["name"].startswith("hf batched"))
    java = rows.get("java")
    floor = c["workload"]["floor_pairs_per_s"]
    row = {"passage_tokens": int(L), "tokens_per_pair": c["workload"]["tokens_per_pair"], "hf": hf["name"],
           "hf_pairs_per_s": hf["pairs_per_s"], "dkv_pairs_per_s": java["pairs_per_s"] if java else None,
           "floor_pairs_per_s": floor, "max_abs_dnll": c.get("nll", {}).get("max_abs_diff_vs_batched")}
    table.append(row)
    j = row["dkv_pairs_per_s"]
    print(f"{L:>8} {row['tokens_per_pair']:>9.1f} {hf['pairs_per_s']:>8.1f} {hf['name'][11:]:>13} "
          f"{(j or float('nan')):>10.1f} {(j or float('nan')) / hf['pairs_per_s']:>6.2f}x {floor:>8.1f} "
          f"{(j or float('nan')) / floor:>8.0%} {(row['max_abs_dnll'] or float('nan')):>9.4f}")
json.dump(table, open(os.path.join(out, "lengths.json"), "w"), indent=1)
PY
exit $status
