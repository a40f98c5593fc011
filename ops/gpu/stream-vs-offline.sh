#!/usr/bin/env bash
# Issue 19: the same workload through the stream and offline, on one GPU, in one call.
#   stream   ops/gpu/scale-out.sh SAMPLES 1: a fresh embedded broker, one `dkv scorer` serving the model, an untimed
#            warm-up experiment, then `dkv produce` of SAMPLES samples × the bench plan's 8 conditions timed until
#            `dkv export --expect` has read every committed score (read_committed).
#   offline  `dkv score` on the same work.jsonl and plan, timed by difference like the bench (java_timing.py: the
#            workload ×REPEAT minus the workload once, so JVM start and weight loading cancel out).
# Then: both rates, their ratio (goal: the stream within 10% of offline), and the NLLs of the two paths pair by pair
# (the same batches need not form in both, so bf16 differences of batch composition are expected: printed, not bounded).
# Usage (GPU machine, repo root):  source ops/gpu/unpack.sh && ops/gpu/stream-vs-offline.sh [SAMPLES] [REPEAT]
#   SAMPLES default 1024 (8192 pairs, ~20 s at 400 pairs/s), REPEAT default 2; SCORER_OPTS as scale-out.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${DKV_JAVA:?source ops/gpu/unpack.sh first}" "${DKV_LIB:?source ops/gpu/unpack.sh first}"
PYTHON=${PYTHON:-/opt/torch/.venv/bin/python}
OUT=${OUT:-/tmp/dkv-out}
samples=${1:-1024}
repeat=${2:-2}
model=${DKV_BENCH_MODEL_DIR:-/tmp/dkv-bench/model}
device=${DKV_DEVICE:-cuda:0}
export PYTORCH_LIBRARY_PATH=${PYTORCH_LIBRARY_PATH:-/opt/torch/.venv/lib/python3.12/site-packages/torch/lib}
export DJL_OFFLINE=true
t0=$SECONDS

echo "== [$((SECONDS - t0))s] stream: ops/gpu/scale-out.sh $samples 1"
DKV_DEVICES=$device ops/gpu/scale-out.sh "$samples" 1
run_dir="$OUT/scale-out"
d="$OUT/stream-vs-offline"
mkdir -p "$d"

echo "== [$((SECONDS - t0))s] offline: dkv score, the workload x$repeat minus once"
"$PYTHON" ops/gpu/bench/java_timing.py --work "$run_dir/work.jsonl" --repeat "$repeat" --scores "$d/offline.jsonl" \
  --out "$d/offline-timing.json" -- "$DKV_JAVA" --enable-native-access=ALL-UNNAMED -Xss4m -cp "$DKV_LIB/*" dkv.cli.Dkv score \
  --model "$model" --samples '{work}' --plan "$run_dir/plan.json" --device "$device" --dtype "${DKV_DTYPE:-bfloat16}" --out '{out}' \
  > "$d/offline.log" 2>&1 || { tail -20 "$d/offline.log"; exit 1; }

echo "== [$((SECONDS - t0))s] comparison"
"$PYTHON" - "$run_dir/scale-out.txt" "$d/offline-timing.json" "$run_dir/w1/scores.jsonl" "$d/offline.jsonl" <<'PY' | tee "$d/summary.txt"
import json, sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:] if l.strip()]
stream_scores, stream_s = int(rows[0][1]), float(rows[0][2])
t = json.load(open(sys.argv[2]))
stream, offline = stream_scores / stream_s, t["pairs"] / t["seconds"]
print(f"stream : {stream_scores} scores in {stream_s:.1f} s = {stream:.1f} pairs/s (produce start to the last committed score read)")
print(f"offline: {t['pairs']} pairs in {t['seconds']:.1f} s = {offline:.1f} pairs/s (dkv score, difference of two runs)")
ratio = stream / offline
print(f"stream / offline = {ratio:.3f} (goal >= 0.90: {'met' if ratio >= 0.9 else 'NOT met'})")

def load(path):
    out = {}
    for line in open(path):
        r = json.loads(line)
        if r.get("nll") is None:  # a failed pair
            continue
        out[(r["sample_id"].split("~")[0], r["condition"])] = float(r["nll"])
    return out
s, o = load(sys.argv[3]), load(sys.argv[4])
common = sorted(set(s) & set(o))
if common:
    diffs = [abs(s[k] - o[k]) for k in common]
    print(f"NLL stream vs offline over {len(common)} pairs: max |dNLL| {max(diffs):.4g}, mean {sum(diffs) / len(diffs):.3g} (bf16; batches differ)")
else:
    print(f"NLL comparison: no common (sample, condition) keys (stream {len(s)}, offline {len(o)} records)")
PY
echo "== [$((SECONDS - t0))s] done"
