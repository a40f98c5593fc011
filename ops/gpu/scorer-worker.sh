#!/usr/bin/env bash
# GPU check of `dkv score` and `dkv scorer` (issues 4 and 7):
#  1. `dkv score --device cuda:N --dtype float32` on the llama fixture: every NLL against the HF reference
#     (scorers/src/test/resources/fixtures/llama/expected.json, tolerance 1e-3), then the same in bfloat16
#     (reported; its bound of 0.5 only catches gross errors: on this random fixture, whose NLLs are ~11,
#     bf16 rounding alone moves them by up to ~0.2 on CPU);
#  2. the stream on the GPU: embedded broker (`dkv broker`), `dkv produce` of the eos plan over 48 samples,
#     one `dkv scorer --device cuda:N` worker with /metrics; waits for all 144 records, scrapes the metrics,
#     stops the worker with SIGTERM (graceful: its last line says "stopped gracefully").
# Needs DKV_JAVA / DKV_LIB (source ops/gpu/unpack.sh after ops/gpu/pack.sh). Logs go to $OUT.
# Usage (GPU machine, repo root):  source ops/gpu/unpack.sh && ops/gpu/scorer-worker.sh [cuda:N]
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${DKV_JAVA:?source ops/gpu/unpack.sh first}" "${DKV_LIB:?source ops/gpu/unpack.sh first}"
export PYTORCH_LIBRARY_PATH=${PYTORCH_LIBRARY_PATH:-/opt/torch/.venv/lib/python3.12/site-packages/torch/lib}
export DJL_OFFLINE=true RUST_FLAVOR=cpu
OUT=${OUT:-/tmp/dkv-out}
mkdir -p "$OUT"
PYTHON=${PYTHON:-/opt/torch/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
device=${1:-cuda:0}
# an array, not a function: `"${dkv[@]}" ... &` makes $! the JVM itself, so kill -TERM reaches it
dkv=("$DKV_JAVA" --enable-native-access=ALL-UNNAMED -Dorg.apache.avro.SERIALIZABLE_PACKAGES=dkv.avro -cp "$DKV_LIB/*" dkv.cli.Dkv)
FIXTURE=scorers/src/test/resources/fixtures/llama
SAMPLES=cli/src/test/resources/score/fixture-samples.jsonl

echo "== 1. dkv score on $device against HF" | tee "$OUT/scorer-worker.log"
for dtype in float32 bfloat16; do
  "${dkv[@]}" score --model "$FIXTURE" --samples "$SAMPLES" --plan cli/src/test/resources/score/fixture-plan.json \
    --out "$OUT/score-$dtype.jsonl" --device "$device" --dtype "$dtype" --attention 2>&1 | tee -a "$OUT/scorer-worker.log"
  tol=$([ "$dtype" = float32 ] && echo 1e-3 || echo 0.5)
  "$PYTHON" - "$FIXTURE/expected.json" "$OUT/score-$dtype.jsonl" "$tol" "$dtype" <<'PY' | tee -a "$OUT/scorer-worker.log"
import json, sys
ref = {(e["sample_id"], e["condition"]): e for e in json.load(open(sys.argv[1]))["expected"]}
tol, dtype, worst, n = float(sys.argv[3]), sys.argv[4], 0.0, 0
for line in open(sys.argv[2]):
    r = json.loads(line)
    e = ref[(r["sample_id"], r["condition"])]
    worst = max(worst, abs(r["nll"] - e["nll_mean"])); n += 1
    assert r["segment_tokens"] == e["segments"], (r["sample_id"], r["condition"], r["segment_tokens"], e["segments"])
print(f"{dtype}: {n} records, max |nll - HF| = {worst:.2e} (tolerance {tol}) -> {'OK' if worst <= tol and n == 18 else 'FAIL'}")
sys.exit(0 if worst <= tol and n == 18 else 1)
PY
done

echo "== 2. the stream on $device" | tee -a "$OUT/scorer-worker.log"
"$PYTHON" -c "
import json
lines = open('$SAMPLES').read().splitlines()
with open('$OUT/eos-samples.jsonl', 'w') as f:
    for i in range(48):
        s = json.loads(lines[i % 3]); s['id'] = f'eos-{i}'; f.write(json.dumps(s) + '\n')"
"${dkv[@]}" broker --port 0 > "$OUT/broker.out" 2> "$OUT/broker.log" &
broker=$!
scorer=
trap 'kill $scorer $broker 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for _ in $(seq 60); do grep -q bootstrap= "$OUT/broker.out" 2>/dev/null && break; sleep 1; done
bootstrap=$(sed -n 's/^bootstrap=//p' "$OUT/broker.out")
"${dkv[@]}" produce --bootstrap "$bootstrap" --plan cli/src/test/resources/score/eos-plan.json --dataset "$OUT/eos-samples.jsonl" \
  --model-id fixture-llama 2>&1 | tee -a "$OUT/scorer-worker.log"
"${dkv[@]}" scorer --bootstrap "$bootstrap" --model "$FIXTURE" --model-id fixture-llama --device "$device" --worker-id gpu-0 \
  --metrics-port 0 > "$OUT/scorer.log" 2>&1 &
scorer=$!
for _ in $(seq 300); do grep -q "scored 144 records" "$OUT/scorer.log" && break; kill -0 $scorer || break; sleep 1; done
port=$(sed -n 's#.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*#\1#p' "$OUT/scorer.log")
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^dkv_scorer_(records_total|latency_seconds_(count|sum))' | tee -a "$OUT/scorer-worker.log" || true
kill -TERM $scorer; wait $scorer || true
cat "$OUT/scorer.log" >> "$OUT/scorer-worker.log"
grep -q "scored 144 records" "$OUT/scorer.log" && grep -q "gpu-0 stopped gracefully after 144 records" "$OUT/scorer.log" \
  && echo "stream on $device: 144/144 records, graceful stop -> OK" | tee -a "$OUT/scorer-worker.log" \
  || { echo "stream on $device: FAIL (see $OUT/scorer.log)" | tee -a "$OUT/scorer-worker.log"; exit 1; }
