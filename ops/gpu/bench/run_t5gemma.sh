#!/usr/bin/env bash
# Issue 14's GPU benchmark in one call (estimated 4-7 minutes on an H200; not yet run there):
#   T5Gemma 2 (encoder-decoder), into $OUT/t5gemma/:
#     1. make_t5gemma_model.py   T5Gemma-2-4B-4B-shaped random bf16 model + word-level Gemma tokenizer → $model
#     2. make_workload.py        --layout t5gemma-v3: 96 samples x 8 v3 conditions (5 encoder inputs per sample)
#     3. hf_t5gemma_bench.py     HF batched: shared-encoder and plain programs at every batch size, best reported
#     4. dkv score               the Java scorer on the same files, timed by java_timing.py
#     5. compare.py              pairs/s, ratio, peak memory, max |dNLL|          → compare.txt, compare.json
#   Gemma 3 (decoder-only, the v4 model family), into $OUT/gemma3/: run.sh with DKV_BENCH_SHAPE=gemma3-4b
#     (make_model.py Gemma3ForCausalLM 3.9e9 params, the 8-condition decoder workload, hf_bench.py research +
#     batched, dkv score, compare.py), only if the T5Gemma part ended within DKV_BENCH_GEMMA3_IF_BEFORE_S.
#   Goals (issue 14): java >= 2x HF batched (T5Gemma 2), >= 1.5x (Gemma 3); printed at the end.
#
# Usage (repository root, after `source ops/gpu/unpack.sh`):
#   ops/gpu/bench/run_t5gemma.sh [--no-java] [--no-gemma3 | --gemma3] [--fresh-model]
#   --gemma3 runs the Gemma 3 part whatever the time; --no-gemma3 never.
# Optional env: OUT (default /tmp/dkv-bench-out), DKV_PYTHON (/opt/torch/.venv/bin/python), DKV_DEVICE (cuda:0),
#   DKV_BENCH_DTYPE (bfloat16), DKV_BENCH_T5_MODEL_DIR (/tmp/dkv-bench/t5gemma-2-4b-4b; 14.2 GB, kept outside
#   $OUT and reused by a later call on the same warm machine), DKV_BENCH_T5_SHAPE (t5gemma-2-4b-4b; tiny to try
#   the pipeline on CPU), DKV_BENCH_T5_SAMPLES (96), DKV_BENCH_T5_BATCH_SIZES (32,64,128,256),
#   DKV_BENCH_T5_RESEARCH (0; 1 adds HF at batch 1), DKV_BENCH_PEAK_TFLOPS (800), DKV_BENCH_JAVA_REPEAT (8),
#   DKV_JAVA_TIMEOUT (150 s per Java run), DKV_JAVA_OPTS, DKV_SCORE_OPTS (extra `dkv score` flags),
#   DKV_BENCH_GEMMA3_IF_BEFORE_S (240), DKV_BENCH_GEMMA3_MODEL_DIR (/tmp/dkv-bench/gemma3-4b),
#   DKV_BENCH_GEMMA3_SHAPE (gemma3-4b), DKV_BENCH_GEMMA3_JAVA_TIMEOUT (90).
set -euo pipefail

java_run=1
gemma3=auto
fresh=0
for arg in "$@"; do
  case "$arg" in
    --no-java) java_run=0 ;;
    --gemma3) gemma3=always ;;
    --no-gemma3) gemma3=never ;;
    --fresh-model) fresh=1 ;;
    *) echo "run_t5gemma.sh: unknown argument '$arg' (--no-java, --gemma3, --no-gemma3, --fresh-model)" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"  # bench_require_java, bench_steps, bench_model
py=${DKV_PYTHON:-/opt/torch/.venv/bin/python}
OUT=${OUT:-/tmp/dkv-bench-out}
t5out=$OUT/t5gemma
model=${DKV_BENCH_T5_MODEL_DIR:-/tmp/dkv-bench/t5gemma-2-4b-4b}
shape=${DKV_BENCH_T5_SHAPE:-t5gemma-2-4b-4b}
samples=${DKV_BENCH_T5_SAMPLES:-96}
sizes=${DKV_BENCH_T5_BATCH_SIZES:-32,64,128,256}
device=${DKV_DEVICE:-cuda:0}
dtype=${DKV_BENCH_DTYPE:-bfloat16}
peak=${DKV_BENCH_PEAK_TFLOPS:-800}
mkdir -p "$t5out"
[[ $java_run == 1 ]] && bench_require_java

t_start=$SECONDS
: > "$OUT/run-steps.txt"
bench_steps "$OUT/run-steps.txt"

step "gpu"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader | tee "$OUT/gpu.txt" || true
df -h "$(dirname "$model")" 2>/dev/null | tail -1 || true

step "t5gemma 1. model → $model"
bench_model run_t5gemma.sh make_t5gemma_model.py dkv-bench-model.json "$model" "$shape" "$dtype" "$device" "$fresh" "$t5out/make-model"

step "t5gemma 2. workload (v3 layout, $samples samples)"
"$py" "$here/make_workload.py" --layout t5gemma-v3 --tokenizer "$model" --out "$t5out/work.jsonl" \
  --plan "$t5out/plan.json" --samples "$samples" --seed 42 | tee "$t5out/workload.json"

step "t5gemma 3. hf transformers (batch sizes $sizes)"
research=()
[[ ${DKV_BENCH_T5_RESEARCH:-0} == 1 ]] && research=(--research)
"$py" "$here/hf_t5gemma_bench.py" --model "$model" --work "$t5out/work.jsonl" --plan "$t5out/plan.json" \
  --out "$t5out/hf-results.json" --batch-sizes "$sizes" --device "$device" --dtype "$dtype" \
  --peak-tflops "$peak" "${research[@]}" 2>&1 | grep -v 'Loading weights' | tee "$t5out/hf-bench.log"

status=0
compare_args=(--hf "$t5out/hf-results.json" --json "$t5out/compare.json")
if [[ $java_run == 1 ]]; then
  step "t5gemma 4. java (dkv score): the workload once, then x${DKV_BENCH_JAVA_REPEAT:-8}, timed by difference"
  export PYTORCH_LIBRARY_PATH=${PYTORCH_LIBRARY_PATH:-$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')}
  export DJL_OFFLINE=true
  # shellcheck disable=SC2086 # DKV_JAVA_OPTS and DKV_SCORE_OPTS are lists of flags
  if "$py" "$here/java_timing.py" --work "$t5out/work.jsonl" --repeat "${DKV_BENCH_JAVA_REPEAT:-8}" \
    --out "$t5out/java-timing.json" --scores "$t5out/java.jsonl" --gpu "${device#cuda:}" \
    --timeout "${DKV_JAVA_TIMEOUT:-150}" -- \
    "$DKV_JAVA" --enable-native-access=ALL-UNNAMED -Xss4m ${DKV_JAVA_OPTS:-} -cp "$DKV_LIB/*" dkv.cli.Dkv score \
    --model "$model" --samples '{work}' --plan "$t5out/plan.json" --device "$device" --dtype "$dtype" --out '{out}' \
    ${DKV_SCORE_OPTS:-}; then
    compare_args+=(--java "$t5out/java.jsonl" --java-timing "$t5out/java-timing.json")
  else
    echo "t5gemma: java run failed (logs: $t5out/java*.log)" >&2
    tail -n 5 "$t5out/java.log" 2>/dev/null || true
    # the first run's scores, if it got that far, still give the NLL comparison
    [[ -s "$t5out/java.jsonl" ]] && compare_args+=(--java "$t5out/java.jsonl")
    status=1
  fi
fi

step "t5gemma 5. comparison"
"$py" "$here/compare.py" "${compare_args[@]}" | tee "$t5out/compare.txt" || status=1

elapsed=$((SECONDS - t_start))
if [[ $gemma3 == always || ( $gemma3 == auto && $elapsed -le ${DKV_BENCH_GEMMA3_IF_BEFORE_S:-240} ) ]]; then
  step "gemma3 (run.sh, shape ${DKV_BENCH_GEMMA3_SHAPE:-gemma3-4b}) → $OUT/gemma3"
  gemma_args=()
  [[ $java_run == 0 ]] && gemma_args=(--no-java)
  OUT=$OUT/gemma3 DKV_BENCH_SHAPE=${DKV_BENCH_GEMMA3_SHAPE:-gemma3-4b} \
    DKV_BENCH_MODEL_DIR=${DKV_BENCH_GEMMA3_MODEL_DIR:-/tmp/dkv-bench/gemma3-4b} \
    DKV_JAVA_TIMEOUT=${DKV_BENCH_GEMMA3_JAVA_TIMEOUT:-90} \
    "$here/run.sh" "${gemma_args[@]}" || status=1
else
  step "gemma3 skipped ($gemma3; the T5Gemma part took ${elapsed}s, limit ${DKV_BENCH_GEMMA3_IF_BEFORE_S:-240}s)"
fi

step "summary"
for part in t5gemma:2.0 gemma3:1.5; do
  name=${part%%:*}
  [[ -f "$OUT/$name/compare.json" ]] || continue
  echo "--- $name"
  cat "$OUT/$name/compare.txt"
  "$py" - "$OUT/$name/compare.json" "${part##*:}" <<'EOF' | tee -a "$OUT/goals.txt"
import json, sys
c, target = json.load(open(sys.argv[1])), float(sys.argv[2])
rows = {r["name"]: r for r in c["rows"]}
hf = next(r for r in c["rows"] if r["name"].startswith("hf batched"))
gib = lambda b: f"{b / 2 ** 30:.1f} GiB" if b else "-"
java = rows.get("java")
if java is None:
    print(f"goal: java >= {target}x {hf['name']} ({hf['pairs_per_s']:.1f} pairs/s): no java result")
else:
    ratio = java["vs_batched"]
    print(f"goal: java >= {target}x {hf['name']}: {java['pairs_per_s']:.1f} / {hf['pairs_per_s']:.1f} pairs/s = "
          f"{ratio:.2f}x ({'met' if ratio >= target else 'NOT met'}); peak HF {gib(hf.get('peak_reserved_bytes'))} "
          f"reserved, java {gib(java.get('peak_reserved_bytes'))} (nvidia-smi); max |dNLL| vs HF "
          f"{c.get('nll', {}).get('max_abs_diff_vs_batched', float('nan')):.4g}")
EOF
done
step "done"
exit $status
