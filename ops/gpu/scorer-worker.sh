#!/usr/bin/env bash
# GPU check of `dkv score` and `dkv scorer` (issues 4, 7 and 8):
#  1. `dkv score --device DEV --dtype float32` on the llama fixture: every NLL against the HF reference
#     (scorers/src/test/resources/fixtures/llama/expected.json, tolerance 1e-3), then the same in bfloat16
#     (reported; its bound of 0.5 only catches gross errors: on this random fixture, whose NLLs are ~11,
#     bf16 rounding alone moves them by up to ~0.2 on CPU);
#  2. the stream equals offline scoring, once per dtype (float32, bfloat16), each on a fresh embedded broker
#     (`dkv broker`): `dkv produce` of the eos plan over 48 samples, one `dkv scorer --device DEV --dtype D`
#     worker with /metrics; once it reports 144 records, `dkv export --expect 144` copies the committed
#     records into a JSONL file, the worker is stopped with SIGTERM (graceful: its last line says "stopped
#     gracefully"), then `dkv score` scores the same samples and plan offline with the same model, device and
#     dtype. Per (sample_id, condition): segment_tokens and answer_tokens equal, |nll_stream - nll_offline| <=
#     1e-5 (float32) or 1e-2 (bfloat16: the stream batches a few work items per poll, offline 32 samples per
#     call, and bf16 GEMMs are not bit-invariant to batch shape). Prints max |ΔNLL| and OK/FAIL per dtype.
# Exits non-zero if any check fails (after running all of them). Logs and JSONL files go to $OUT.
# Needs DKV_JAVA / DKV_LIB (source ops/gpu/unpack.sh after ops/gpu/pack.sh).
# Usage (GPU machine, repo root):  source ops/gpu/unpack.sh && ops/gpu/scorer-worker.sh [cuda:N]
# On a CPU machine (the bundled CPU libtorch from DKV_LIB, or PYTORCH_LIBRARY_PATH if set):
#   DKV_JAVA=$JAVA_HOME/bin/java DKV_LIB=/tmp/dkvlib ops/gpu/scorer-worker.sh cpu     (or DKV_DEVICE=cpu)
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${DKV_JAVA:?source ops/gpu/unpack.sh first}" "${DKV_LIB:?source ops/gpu/unpack.sh first}"
device=${DKV_DEVICE:-${1:-cuda:0}}
if [ "$device" != cpu ]; then
  export PYTORCH_LIBRARY_PATH=${PYTORCH_LIBRARY_PATH:-/opt/torch/.venv/lib/python3.12/site-packages/torch/lib}
fi
export DJL_OFFLINE=true RUST_FLAVOR=cpu
OUT=${OUT:-/tmp/dkv-out}
mkdir -p "$OUT"
PYTHON=${PYTHON:-/opt/torch/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
# an array, not a function: `"${dkv[@]}" ... &` makes $! the JVM itself, so kill -TERM reaches it
dkv=("$DKV_JAVA" --enable-native-access=ALL-UNNAMED -Dorg.apache.avro.SERIALIZABLE_PACKAGES=dkv.avro -cp "$DKV_LIB/*" dkv.cli.Dkv)
FIXTURE=scorers/src/test/resources/fixtures/llama
SAMPLES=cli/src/test/resources/score/fixture-samples.jsonl
PLAN=cli/src/test/resources/score/eos-plan.json
LOG=$OUT/scorer-worker.log
failed=0

echo "== 1. dkv score on $device against HF" | tee "$LOG"
for dtype in float32 bfloat16; do
  "${dkv[@]}" score --model "$FIXTURE" --samples "$SAMPLES" --plan cli/src/test/resources/score/fixture-plan.json \
    --out "$OUT/score-$dtype.jsonl" --device "$device" --dtype "$dtype" --attention 2>&1 | tee -a "$LOG"
  tol=$([ "$dtype" = float32 ] && echo 1e-3 || echo 0.5)
  "$PYTHON" - "$FIXTURE/expected.json" "$OUT/score-$dtype.jsonl" "$tol" "$dtype" <<'PY' 2>&1 | tee -a "$LOG" || failed=1
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

echo "== 2. the stream on $device equals offline dkv score" | tee -a "$LOG"
"$PYTHON" -c "
import json
lines = open('$SAMPLES').read().splitlines()
with open('$OUT/eos-samples.jsonl', 'w') as f:
    for i in range(48):
        s = json.loads(lines[i % 3]); s['id'] = f'eos-{i}'; f.write(json.dumps(s) + '\n')"
broker=
scorer=
trap 'kill $scorer $broker 2>/dev/null || true; wait 2>/dev/null || true' EXIT

# Streams the eos experiment through one worker in $1 and exports its committed records to $OUT/stream-$1.jsonl;
# returns non-zero if the worker does not score all 144 records, the export does not find exactly 144, or the
# worker does not stop gracefully.
stream() {
  local dtype=$1 ok=0 port bootstrap
  "${dkv[@]}" broker --port 0 > "$OUT/broker-$dtype.out" 2> "$OUT/broker-$dtype.log" &
  broker=$!
  for _ in $(seq 60); do grep -q bootstrap= "$OUT/broker-$dtype.out" 2>/dev/null && break; sleep 1; done
  bootstrap=$(sed -n 's/^bootstrap=//p' "$OUT/broker-$dtype.out")
  [ -n "$bootstrap" ] || { echo "stream $dtype: the broker did not start (see $OUT/broker-$dtype.log)" | tee -a "$LOG"; return 1; }
  "${dkv[@]}" produce --bootstrap "$bootstrap" --plan "$PLAN" --dataset "$OUT/eos-samples.jsonl" \
    --model-id fixture-llama 2>&1 | tee -a "$LOG"
  "${dkv[@]}" scorer --bootstrap "$bootstrap" --model "$FIXTURE" --model-id fixture-llama --device "$device" --dtype "$dtype" \
    --worker-id worker-0 --metrics-port 0 > "$OUT/scorer-$dtype.log" 2>&1 &
  scorer=$!
  for _ in $(seq 300); do grep -q "scored 144 records" "$OUT/scorer-$dtype.log" && break; kill -0 $scorer || break; sleep 1; done
  port=$(sed -n 's#.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*#\1#p' "$OUT/scorer-$dtype.log")
  curl -s "http://127.0.0.1:$port/metrics" | grep -E '^dkv_scorer_(records_total|latency_seconds_(count|sum))' | tee -a "$LOG" || true
  "${dkv[@]}" export --bootstrap "$bootstrap" --expect 144 --out "$OUT/stream-$dtype.jsonl" --timeout-ms 60000 2>&1 \
    | tee -a "$LOG" || ok=1
  kill -TERM $scorer; wait $scorer || true
  scorer=
  kill $broker; wait $broker || true
  broker=
  cat "$OUT/scorer-$dtype.log" >> "$LOG"
  grep -q "scored 144 records" "$OUT/scorer-$dtype.log" && grep -q "worker-0 stopped gracefully after 144 records" "$OUT/scorer-$dtype.log" \
    && echo "stream $dtype on $device: 144/144 records, graceful stop -> OK" | tee -a "$LOG" \
    || { echo "stream $dtype on $device: FAIL (see $OUT/scorer-$dtype.log)" | tee -a "$LOG"; ok=1; }
  return $ok
}

for dtype in float32 bfloat16; do
  tol=$([ "$dtype" = float32 ] && echo 1e-5 || echo 1e-2)
  stream "$dtype" || { failed=1; continue; }
  "${dkv[@]}" score --model "$FIXTURE" --samples "$OUT/eos-samples.jsonl" --plan "$PLAN" --model-id fixture-llama \
    --out "$OUT/offline-$dtype.jsonl" --device "$device" --dtype "$dtype" 2>&1 | tee -a "$LOG"
  "$PYTHON" - "$OUT/stream-$dtype.jsonl" "$OUT/offline-$dtype.jsonl" "$tol" "$dtype" "$device" <<'PY' 2>&1 | tee -a "$LOG" || failed=1
import json, sys
stream_file, offline_file, tol, dtype, device = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
def records(path):
    out = {}
    for n, line in enumerate(open(path), 1):
        r = json.loads(line)
        key = (r["sample_id"], r["condition"])
        assert key not in out, f"{path}:{n}: duplicate {key}"
        out[key] = r
    return out
stream, offline = records(stream_file), records(offline_file)
problems = []
if stream.keys() != offline.keys():
    problems.append(f"keys differ: {len(stream.keys() - offline.keys())} only streamed, {len(offline.keys() - stream.keys())} only offline")
worst, worst_key = 0.0, None
for key in sorted(stream.keys() & offline.keys()):
    s, o = stream[key], offline[key]
    for field in ("segment_tokens", "answer_tokens", "dtype", "experiment_id", "plan_hash"):
        if s[field] != o[field]:
            problems.append(f"{key}: {field} stream {s[field]} != offline {o[field]}")
    delta = abs(s["nll"] - o["nll"])
    if delta >= worst:
        worst, worst_key = delta, key
ok = not problems and len(stream) == 144 and worst <= tol
for p in problems[:10]:
    print("  " + p)
print(f"stream == offline, {dtype} on {device}: {len(stream)} pairs, max |nll_stream - nll_offline| = {worst:.2e} "
      f"at {worst_key} (tolerance {tol:g}), {'keys and token counts equal' if not problems else f'{len(problems)} mismatches'} -> {'OK' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
done

[ "$failed" = 0 ] && echo "scorer-worker on $device: all checks OK" | tee -a "$LOG" \
  || { echo "scorer-worker on $device: FAIL (see $LOG)" | tee -a "$LOG"; exit 1; }
