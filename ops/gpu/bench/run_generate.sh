#!/usr/bin/env bash
# The generation benchmark of issue 16 on the GPU machine, in one call (estimated 4-5 minutes on an H200 with a
# fresh model; not yet run there):
#   1. make_model.py            Mistral-7B-shaped random bf16 model + word-level tokenizer → $DKV_BENCH_MODEL_DIR
#                               (reused when run.sh or an earlier run left one of this shape)
#   2. hf_generate_bench.py workload  32 documents x 5 templates = 160 raw prompts           → $OUT/generate/prompts.jsonl
#      hf_generate_bench.py view      the model with an EOS id no logit has (both sides decode exactly N tokens)
#   3. hf_generate_bench.py hf        HF generate, greedy, left-padded batches of each size → $OUT/generate/hf-results.json
#   4. dkv generate --batch N         per size, timed by java_timing.py (once, then xR; difference)
#                                                                        → $OUT/generate/java-bN.jsonl, java-bN-timing.json
#   5. hf_generate_bench.py compare   surrogates/s, new tokens/s, ratio, agreement, memory → $OUT/generate/compare.txt, .json
#
# Usage (repository root):  source ops/gpu/unpack.sh && ops/gpu/bench/run_generate.sh [--no-java] [--fresh-model]
#   With Java: DKV_JAVA (java 25 binary) and DKV_LIB (dkv jars), e.g. from `source ops/gpu/unpack.sh`.
# Optional env: OUT (default /tmp/dkv-bench-out; results go to $OUT/generate), DKV_PYTHON (default
#   /opt/torch/.venv/bin/python), DKV_BENCH_MODEL_DIR (default /tmp/dkv-bench/model, shared with run.sh),
#   DKV_GEN_BATCH_SIZES (32,80,160: HF's sizes), DKV_GEN_JAVA_BATCH_SIZES (default: the same, largest first),
#   DKV_GEN_DOCS (32),
#   DKV_GEN_MAX_NEW_TOKENS (45), DKV_GEN_JAVA_REPEAT (4: copies of the prompts in Java's timed run),
#   DKV_JAVA_OPTS (extra JVM flags), DKV_JAVA_TIMEOUT (seconds per Java run, default 150), DKV_DEVICE (cuda:0),
#   DKV_BENCH_SHAPE (mistral-7b; tiny to try the pipeline on CPU), DKV_BENCH_DTYPE (bfloat16).
set -euo pipefail

java_run=1
fresh=0
for arg in "$@"; do
  case "$arg" in
    --no-java) java_run=0 ;;
    --fresh-model) fresh=1 ;;
    *) echo "run_generate.sh: unknown argument '$arg' (--no-java, --fresh-model)" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"  # bench_require_java, bench_steps, bench_model
py=${DKV_PYTHON:-/opt/torch/.venv/bin/python}
OUT=${OUT:-/tmp/dkv-bench-out}
gen="$OUT/generate"
model=${DKV_BENCH_MODEL_DIR:-/tmp/dkv-bench/model}
view="$(dirname "$model")/$(basename "$model")-generate-view"
sizes=${DKV_GEN_BATCH_SIZES:-32,80,160}
# Java's sizes largest first: should the call's time run out, the likely best has run (and been compared) already
java_sizes=${DKV_GEN_JAVA_BATCH_SIZES:-$(tr ',' '\n' <<<"$sizes" | sort -rn | paste -sd,)}
max_new=${DKV_GEN_MAX_NEW_TOKENS:-45}
device=${DKV_DEVICE:-cuda:0}
shape=${DKV_BENCH_SHAPE:-mistral-7b}
dtype=${DKV_BENCH_DTYPE:-bfloat16}
mkdir -p "$gen"
[[ $java_run == 1 ]] && bench_require_java

bench_steps "$gen/run-steps.txt"

step "gpu"
if [[ $device == cuda* ]]; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader | tee "$gen/gpu.txt" || true
fi

step "1. model → $model"
bench_model run_generate.sh make_model.py dkv-bench-model.json "$model" "$shape" "$dtype" "$device" "$fresh" "$gen/make-model"

step "2. prompts and the no-EOS view → $view"
"$py" "$here/hf_generate_bench.py" workload --model "$model" --out "$gen/prompts.jsonl" \
  --docs "${DKV_GEN_DOCS:-32}" --seed 42 | tee "$gen/workload.json"
"$py" "$here/hf_generate_bench.py" view --model "$model" --out "$view" | tee "$gen/view.json"

step "3. hf transformers generate (batch sizes $sizes)"
"$py" "$here/hf_generate_bench.py" hf --model "$view" --prompts "$gen/prompts.jsonl" --out "$gen/hf-results.json" \
  --batch-sizes "$sizes" --max-new-tokens "$max_new" --device "$device" --dtype "$dtype" 2>&1 \
  | grep -v 'Loading weights' | tee "$gen/hf-bench.log"

compare_args=(--hf "$gen/hf-results.json" --json "$gen/compare.json")
compare() {  # the table over the Java sizes done so far (after each, so a run cut short still leaves one)
  "$py" "$here/hf_generate_bench.py" compare "${compare_args[@]}" > "$gen/compare.txt"
}
status=0
java_done=0
if [[ $java_run == 1 ]]; then
  export PYTORCH_LIBRARY_PATH=${PYTORCH_LIBRARY_PATH:-$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')}
  export DJL_OFFLINE=true
  for n in ${java_sizes//,/ }; do
    step "4. java (dkv generate --batch $n): the prompts once, then x${DKV_GEN_JAVA_REPEAT:-4}, timed by difference"
    rm -f "$gen/java-b$n-timing.json"
    # shellcheck disable=SC2086 # DKV_JAVA_OPTS is a list of flags
    if "$py" "$here/java_timing.py" --work "$gen/prompts.jsonl" --repeat "${DKV_GEN_JAVA_REPEAT:-4}" \
      --out "$gen/java-b$n-timing.json" --scores "$gen/java-b$n.jsonl" --gpu "${device#cuda:}" \
      --timeout "${DKV_JAVA_TIMEOUT:-150}" -- \
      "$DKV_JAVA" --enable-native-access=ALL-UNNAMED -Xss4m ${DKV_JAVA_OPTS:-} -cp "$DKV_LIB/*" dkv.cli.Dkv generate \
      --model "$view" --prompts '{work}' --out '{out}' --batch "$n" --max-new-tokens "$max_new" \
      --device "$device" --dtype "$dtype"; then
      compare_args+=(--java "$n=$gen/java-b$n.jsonl,$gen/java-b$n-timing.json")
      java_done=1
      compare || { echo "comparison failed" >&2; status=1; }
    else
      echo "java run at batch $n failed (logs: $gen/java-b$n*.log)" >&2
      status=1
    fi
  done
fi

step "5. comparison"
if [[ $java_done == 1 ]]; then
  cat "$gen/compare.txt"
else
  echo "no Java run to compare; HF alone:" | tee "$gen/compare.txt"
  "$py" -c 'import json, sys; [print(json.dumps(s)) for s in json.load(open(sys.argv[1]))["sizes"]]' \
    "$gen/hf-results.json" | tee -a "$gen/compare.txt"
fi
step "done"
exit $status
