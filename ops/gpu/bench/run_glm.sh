#!/usr/bin/env bash
# The GLM scorer benchmark of issue 15 on the GPU machine, in one call (estimated 4-6 minutes on an H200 with a
# fresh model, about 1.5 less with the model reused; not yet run there):
#   1. make_glm_model.py   ChatGLM-6B-shaped random fp16 snapshot (.bin shards, ice_text.model)  → $DKV_GLM_MODEL_DIR
#   2. make_workload.py    --family glm: 32 MS MARCO-like samples + the 8-condition GLM plan   → $O/work.jsonl, plan.json
#   3. glm_torch_bench.py  the Python peer: research (batch 1) and batched                    → $O/peer-results.json
#   4. dkv score           the Java scorer on the same files, timed by java_timing.py          → $O/java.jsonl, java-timing.json
#   5. compare.py          the side-by-side table                                              → $O/compare.txt, compare.json
# with O = $OUT/glm. Everything must end by DKV_BENCH_DEADLINE seconds (default 540) after the start: the peer and the
# two Java runs get timeouts from what is left, so the table is printed even when a step overruns.
#
# Usage (repository root):  ops/gpu/bench/run_glm.sh [--no-java | --java-only] [--fresh-model]
#   With Java: DKV_JAVA (java 25 binary) and DKV_LIB (dkv jars), e.g. from `source ops/gpu/unpack.sh`.
# Optional env: OUT (default /tmp/dkv-bench-out), DKV_PYTHON (default /opt/torch/.venv/bin/python),
#   DKV_GLM_MODEL_DIR (default /tmp/dkv-glm/model; 13.4 GB, kept outside $OUT), DKV_BENCH_SAMPLES (32),
#   DKV_BENCH_BATCH_SIZES (32,64,128,256), DKV_BENCH_JAVA_REPEAT (8), DKV_JAVA_OPTS, DKV_SCORE_OPTS,
#   DKV_DEVICE (cuda:0), DKV_BENCH_SHAPE (chatglm-6b; tiny on CPU), DKV_BENCH_DTYPE (float16; or bfloat16),
#   DKV_BENCH_DEADLINE (540).
set -euo pipefail

java_run=1
peer_run=1
fresh=0
for arg in "$@"; do
  case "$arg" in
    --no-java) java_run=0 ;;
    --java-only) peer_run=0 ;;
    --fresh-model) fresh=1 ;;
    *) echo "run_glm.sh: unknown argument '$arg' (--no-java, --java-only, --fresh-model)" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"  # bench_require_java, bench_steps, bench_model
py=${DKV_PYTHON:-/opt/torch/.venv/bin/python}
OUT=${OUT:-/tmp/dkv-bench-out}
O=$OUT/glm
model=${DKV_GLM_MODEL_DIR:-/tmp/dkv-glm/model}
samples=${DKV_BENCH_SAMPLES:-32}
sizes=${DKV_BENCH_BATCH_SIZES:-32,64,128,256}
device=${DKV_DEVICE:-cuda:0}
shape=${DKV_BENCH_SHAPE:-chatglm-6b}
dtype=${DKV_BENCH_DTYPE:-float16}
deadline=${DKV_BENCH_DEADLINE:-540}
mkdir -p "$O"
: > "$O/run-steps.txt"
[[ $java_run == 1 ]] && bench_require_java

t_start=$SECONDS
left() { echo $((deadline - (SECONDS - t_start))); }
bench_steps "$O/run-steps.txt"

step "gpu (estimate: model ~90 s fresh / ~5 s reused, workload ~10 s, peer ~60 s, java 2 runs ~60-150 s)"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader 2>/dev/null | tee "$O/gpu.txt" || true
df -h "$(dirname "$model")" 2>/dev/null | tail -1 || true

if [[ $peer_run == 1 ]]; then
step "1. model → $model"
bench_model run_glm.sh make_glm_model.py dkv-glm-model.json "$model" "$shape" "$dtype" "$device" "$fresh" "$O/make-model"

step "2. workload"
"$py" "$here/make_workload.py" --family glm --tokenizer "$model" --out "$O/work.jsonl" --plan "$O/plan.json" \
  --samples "$samples" --seed 42 | tee "$O/workload.json"

peer_limit=$(( $(left) > 300 ? $(left) - 200 : 100 ))  # leaves ~200 s for the two Java runs and the table
step "3. torch peer (timeout ${peer_limit}s)"
rm -f "$O/peer-results.json"
timeout "$peer_limit" "$py" "$here/glm_torch_bench.py" --model "$model" \
  --work "$O/work.jsonl" --plan "$O/plan.json" --out "$O/peer-results.json" --batch-sizes "$sizes" \
  --device "$device" --dtype "$dtype" 2>&1 | tee "$O/peer-bench.log" || echo "run_glm.sh: the torch peer failed or timed out" >&2

else
  for f in "$model/config.json" "$O/work.jsonl" "$O/plan.json" "$O/peer-results.json"; do
    [[ -f $f ]] || { echo "run_glm.sh --java-only: $f is missing; run the peer half first" >&2; exit 2; }
  done
  step "1-3. reusing the model, workload and peer results in $O"
fi

compare_args=(--peer "$O/peer-results.json" --json "$O/compare.json")
status=0
if [[ $java_run == 1 ]]; then
  per_run=$(( ($(left) - 15) / 2 ))
  (( per_run > 240 )) && per_run=240
  step "4. java (dkv score): the workload once, then x${DKV_BENCH_JAVA_REPEAT:-8}, timed by difference (timeout ${per_run}s a run)"
  export PYTORCH_LIBRARY_PATH=${PYTORCH_LIBRARY_PATH:-$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')}
  export DJL_OFFLINE=true
  rm -f "$O/java.jsonl" "$O/java-timing.json"
  # shellcheck disable=SC2086 # DKV_JAVA_OPTS and DKV_SCORE_OPTS are lists of flags
  if (( per_run >= 30 )) && "$py" "$here/java_timing.py" --work "$O/work.jsonl" --repeat "${DKV_BENCH_JAVA_REPEAT:-8}" \
    --out "$O/java-timing.json" --scores "$O/java.jsonl" --gpu "${device#cuda:}" --timeout "$per_run" -- \
    "$DKV_JAVA" --enable-native-access=ALL-UNNAMED -Xss4m ${DKV_JAVA_OPTS:-} -cp "$DKV_LIB/*" dkv.cli.Dkv score \
    --model "$model" --samples '{work}' --plan "$O/plan.json" --device "$device" --dtype "$dtype" --out '{out}' \
    ${DKV_SCORE_OPTS:-}; then
    compare_args+=(--java "$O/java.jsonl" --java-timing "$O/java-timing.json")
  else
    echo "java run failed or had no time left (logs: $O/java*.log); comparing the peer only" >&2
    [[ -f "$O/java.jsonl" ]] && compare_args+=(--java "$O/java.jsonl")
    status=1
  fi
  rm -f "$O/java.repeated-work.jsonl" "$O/java.repeated.jsonl"  # 2048 copies of what java.jsonl holds
fi

step "5. comparison"
if [[ -f "$O/peer-results.json" ]]; then
  "$py" "$here/compare.py" "${compare_args[@]}" | tee "$O/compare.txt" || status=$?
else
  echo "no peer results ($O/peer-bench.log): nothing to compare; Java timing: $(cat "$O/java-timing.json" 2>/dev/null)" \
    | tee "$O/compare.txt"
  status=1
fi
step "done"
exit $status
