#!/usr/bin/env bash
# Scorer-level throughput (dkv.scorers.score.ScorerBench) on the random Mistral-7B-shaped bf16 model of
# ops/gpu/bench/make_model.py (one word = one token): pairs/s with one condition per forward vs batched
# conditions (--max-batch), one sample per SampleScorer call vs several (--per-call). Workload shape of
# The bench workload: ~100-token passage, 8-token surrogate, ~20-token QUERY segment, ~10-token answer, 8 conditions.
# Needs DKV_JAVA / DKV_LIB (source ops/gpu/unpack.sh) and a python with torch + transformers (PYTHON) to
# build the model once into $BENCH_MODEL. Logs go to $OUT.
# Usage (GPU machine, repo root):  source ops/gpu/unpack.sh && ops/gpu/scorer-bench.sh [cuda:N]
# Optional env: DKV_BENCH_SAMPLES (32), DKV_BENCH_MAX_BATCH (256), DKV_BENCH_PER_CALL (8,32,64), DKV_BENCH_MAX_TOKENS (16384),
#   DKV_BENCH_INVARIANCE_SAMPLES (4), DKV_JFR (a Java Flight Recording file).
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
BENCH_MODEL=${BENCH_MODEL:-/tmp/dkv-bench/model}
if [ ! -f "$BENCH_MODEL/config.json" ]; then
  "$PYTHON" ops/gpu/bench/make_model.py --out "$BENCH_MODEL" --shape mistral-7b --device "$device" 2>&1 | tail -3 \
    | tee "$OUT/scorer-bench-model.log"
fi
# DKV_JFR=FILE records a Java Flight Recording of the run (native-method samples show where the host waits)
jfr=()
[ -n "${DKV_JFR:-}" ] && jfr=(-XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints "-XX:StartFlightRecording=filename=$DKV_JFR,settings=profile")
"$DKV_JAVA" --enable-native-access=ALL-UNNAMED -Dorg.apache.avro.SERIALIZABLE_PACKAGES=dkv.avro "${jfr[@]}" -cp "$DKV_LIB/*" \
  dkv.scorers.score.ScorerBench --model "$BENCH_MODEL" --device "$device" --dtype bfloat16 --samples "${DKV_BENCH_SAMPLES:-32}" \
  --passage-words 100 --surrogate-words 8 --query-words 13 --answer-words 10 --max-batch ${DKV_BENCH_MAX_BATCH:-256} --per-call ${DKV_BENCH_PER_CALL:-8,32,64} --profile true \
  --max-tokens "${DKV_BENCH_MAX_TOKENS:-16384}" --invariance-samples "${DKV_BENCH_INVARIANCE_SAMPLES:-4}" \
  2>&1 | tee "$OUT/scorer-bench.log"
