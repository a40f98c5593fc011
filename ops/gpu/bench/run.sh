#!/usr/bin/env bash
# The scorer benchmark of issue 8 on the GPU machine, in one call (estimated 4-7 minutes on an H100; not yet run there):
#   1. make_model.py    Mistral-7B-shaped random bf16 model + word-level tokenizer  → $DKV_BENCH_MODEL_DIR
#   2. make_workload.py 32 MS MARCO-like samples + the 8-condition plan              → $OUT/work.jsonl, plan.json
#   3. hf_bench.py      HF transformers: research (batch 1) and batched              → $OUT/hf-results.json
#   4. dkv score        the Java scorer on the same files, timed by java_timing.py   → $OUT/java.jsonl, java-timing.json
#   5. compare.py       the side-by-side table                                       → $OUT/compare.txt, compare.json
#
# Usage (repository root):  ops/gpu/bench/run.sh [--no-java | --java-only] [--fresh-model]
#   --java-only reuses the model, workload and HF results an earlier run left in $OUT (e.g. when one call's
#   time limit cannot hold both halves: run --no-java, then --java-only on the still-warm machine).
#   With Java: DKV_JAVA (java 25 binary) and DKV_LIB (dkv jars), e.g. from `source ops/gpu/unpack.sh`.
# Optional env: OUT (default /tmp/dkv-bench-out), DKV_PYTHON (default /opt/torch/.venv/bin/python),
#   DKV_BENCH_MODEL_DIR (default /tmp/dkv-bench/model; kept outside $OUT: 14.5 GB), DKV_BENCH_SAMPLES (32),
#   DKV_BENCH_BATCH_SIZES (16,32,64,128,256), DKV_BENCH_JAVA_REPEAT (8: copies of the workload in Java's timed run),
#   DKV_JAVA_OPTS (extra JVM flags), DKV_SCORE_OPTS (extra `dkv score` flags),
#   DKV_JAVA_TIMEOUT (seconds per Java run, default 240), DKV_DEVICE (cuda:0),
#   DKV_BENCH_HF_MODES (research,batched; "batched" skips the batch-1 research loop),
#   DKV_BENCH_WORKLOAD_ARGS (extra make_workload.py flags, e.g. "--passage-tokens 950,1050"),
#   DKV_BENCH_SHAPE (mistral-7b; gemma3-4b for the Gemma-3-shaped model run_t5gemma.sh runs; tiny or gemma3-tiny to
#   try the pipeline on CPU), DKV_BENCH_DTYPE (bfloat16).
set -euo pipefail

java_run=1
hf_run=1
fresh=0
for arg in "$@"; do
  case "$arg" in
    --no-java) java_run=0 ;;
    --java-only) hf_run=0 ;;
    --fresh-model) fresh=1 ;;
    *) echo "run.sh: unknown argument '$arg' (--no-java, --java-only, --fresh-model)" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"  # bench_require_java, bench_steps, bench_model
py=${DKV_PYTHON:-/opt/torch/.venv/bin/python}
OUT=${OUT:-/tmp/dkv-bench-out}
model=${DKV_BENCH_MODEL_DIR:-/tmp/dkv-bench/model}
samples=${DKV_BENCH_SAMPLES:-32}
sizes=${DKV_BENCH_BATCH_SIZES:-16,32,64,128,256}
device=${DKV_DEVICE:-cuda:0}
shape=${DKV_BENCH_SHAPE:-mistral-7b}
dtype=${DKV_BENCH_DTYPE:-bfloat16}
mkdir -p "$OUT"
[[ $java_run == 1 ]] && bench_require_java

bench_steps "$OUT/run-steps.txt"

step "gpu"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader | tee "$OUT/gpu.txt" || true
df -h "$(dirname "$model")" 2>/dev/null | tail -1 || true

if [[ $hf_run == 1 ]]; then
step "1. model → $model"
bench_model run.sh make_model.py dkv-bench-model.json "$model" "$shape" "$dtype" "$device" "$fresh" "$OUT/make-model"

step "2. workload"
"$py" "$here/make_workload.py" --tokenizer "$model" --out "$OUT/work.jsonl" --plan "$OUT/plan.json" \
  --samples "$samples" --seed 42 ${DKV_BENCH_WORKLOAD_ARGS:-} | tee "$OUT/workload.json"

step "3. hf transformers"
"$py" "$here/hf_bench.py" --model "$model" --work "$OUT/work.jsonl" --plan "$OUT/plan.json" \
  --out "$OUT/hf-results.json" --batch-sizes "$sizes" --modes "${DKV_BENCH_HF_MODES:-research,batched}" \
  --device "$device" --dtype "$dtype" 2>&1 \
  | grep -v 'Loading weights' | tee "$OUT/hf-bench.log"

else
  for f in "$model/config.json" "$OUT/work.jsonl" "$OUT/plan.json" "$OUT/hf-results.json"; do
    [[ -f $f ]] || { echo "run.sh --java-only: $f is missing; run the HF half first" >&2; exit 2; }
  done
  step "1-3. reusing the model, workload and HF results in $OUT"
fi

compare_args=(--hf "$OUT/hf-results.json" --json "$OUT/compare.json")
status=0
if [[ $java_run == 1 ]]; then
  step "4. java (dkv score): the workload once, then x${DKV_BENCH_JAVA_REPEAT:-8}, timed by difference"
  export PYTORCH_LIBRARY_PATH=${PYTORCH_LIBRARY_PATH:-$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')}
  export DJL_OFFLINE=true
  # shellcheck disable=SC2086 # DKV_JAVA_OPTS and DKV_SCORE_OPTS are lists of flags
  if "$py" "$here/java_timing.py" --work "$OUT/work.jsonl" --repeat "${DKV_BENCH_JAVA_REPEAT:-8}" \
    --out "$OUT/java-timing.json" --scores "$OUT/java.jsonl" --gpu "${device#cuda:}" \
    --timeout "${DKV_JAVA_TIMEOUT:-240}" -- \
    "$DKV_JAVA" --enable-native-access=ALL-UNNAMED -Xss4m ${DKV_JAVA_OPTS:-} -cp "$DKV_LIB/*" dkv.cli.Dkv score \
    --model "$model" --samples '{work}' --plan "$OUT/plan.json" --device "$device" --dtype "$dtype" --out '{out}' \
    ${DKV_SCORE_OPTS:-}; then
    compare_args+=(--java "$OUT/java.jsonl" --java-timing "$OUT/java-timing.json")
  else
    echo "java run failed (logs: $OUT/java*.log); comparing HF only" >&2
    status=1
  fi
fi

step "5. comparison"
"$py" "$here/compare.py" "${compare_args[@]}" | tee "$OUT/compare.txt"
step "done"
exit $status
