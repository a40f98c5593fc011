#!/usr/bin/env bash
# Where dkv's time goes per model family, in one GPU call: for each family named, build its bench model (if
# missing) and workload exactly as its bench script does, then run `dkv score` twice on the workload:
#   1. unprofiled, with nvidia-smi sampling GPU utilisation every 0.1 s  → $OUT/profile/FAMILY-util.txt
#      (a mean well under 100% while the forwards run means the host, not the GPU, sets the pace)
#   2. with -Ddkv.op-profile: issue time, device time and the device's idle time before each op, per op name and
#      call site, timed by CUDA events without serializing (DKV_PROFILE_TIMING=sync: every call synchronized,
#      as before; see OpProfile)                                         → $OUT/profile/FAMILY-ops.txt
# and writes one summary ($OUT/profile/summary.txt: wall times, utilisation, the top ops of each family).
#
# Usage (repository root, after `source ops/gpu/unpack.sh`):
#   ops/gpu/bench/profile.sh [mistral] [gemma3] [t5gemma] [glm]
# Optional env: DKV_PYTHON, DKV_DEVICE (cuda:0), DKV_PROFILE_SAMPLES (32; t5gemma 96), DKV_PROFILE_TOP (25),
#   DKV_PROFILE_TIMING (events | sync), DKV_PROFILE_SITES (true: book each op per call site too),
#   DKV_JAVA_OPTS, DKV_SCORE_OPTS, DKV_BENCH_WORKLOAD_ARGS (extra make_workload.py flags).
set -euo pipefail
: "${DKV_JAVA:?source ops/gpu/unpack.sh first}" "${DKV_LIB:?source ops/gpu/unpack.sh first}"
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"  # bench_model
py=${DKV_PYTHON:-/opt/torch/.venv/bin/python}
device=${DKV_DEVICE:-cuda:0}
OUT=${OUT:-/tmp/dkv-bench-out}
P=$OUT/profile
mkdir -p "$P"
top=${DKV_PROFILE_TOP:-25}
export PYTORCH_LIBRARY_PATH=${PYTORCH_LIBRARY_PATH:-$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')}
export DJL_OFFLINE=true
t0=$SECONDS

# model FAMILY → prints the model dir, building it with the family's bench maker when missing
model_for() {
  local fam=$1 dir maker shape dtype marker
  case $fam in
    mistral) dir=/tmp/dkv-bench/model; maker=make_model.py; shape=mistral-7b; dtype=bfloat16; marker=dkv-bench-model.json ;;
    gemma3) dir=/tmp/dkv-bench/gemma3-4b; maker=make_model.py; shape=gemma3-4b; dtype=bfloat16; marker=dkv-bench-model.json ;;
    t5gemma) dir=/tmp/dkv-bench/t5gemma-2-4b-4b; maker=make_t5gemma_model.py; shape=t5gemma-2-4b-4b; dtype=bfloat16; marker=dkv-bench-model.json ;;
    glm) dir=/tmp/dkv-bench/chatglm-6b; maker=make_glm_model.py; shape=chatglm-6b; dtype=float16; marker=dkv-glm-model.json ;;
    *) echo "profile.sh: unknown family '$fam' (mistral, gemma3, t5gemma, glm)" >&2; exit 2 ;;
  esac
  bench_model profile.sh "$maker" "$marker" "$dir" "$shape" "$dtype" "$device" 0 "$P/$fam-make-model" > /dev/null
  echo "$dir"
}

: > "$P/summary.txt"
for fam in "$@"; do
  echo "== [$((SECONDS - t0))s] $fam" | tee -a "$P/summary.txt"
  model=$(model_for "$fam")
  dtype=bfloat16; layout=(); samples=${DKV_PROFILE_SAMPLES:-32}
  case $fam in
    glm) dtype=float16; layout=(--family glm) ;;
    t5gemma) layout=(--layout t5gemma-v3); samples=${DKV_PROFILE_SAMPLES:-96} ;;
  esac
  # shellcheck disable=SC2086 # DKV_BENCH_WORKLOAD_ARGS is a list of flags
  "$py" "$here/make_workload.py" "${layout[@]}" --tokenizer "$model" --out "$P/$fam-work.jsonl" --plan "$P/$fam-plan.json" \
    --samples "$samples" --seed 42 ${DKV_BENCH_WORKLOAD_ARGS:-} > /dev/null
  score() {  # score LOGNAME [JVM flags...]
    local log=$1; shift
    # shellcheck disable=SC2086
    "$DKV_JAVA" --enable-native-access=ALL-UNNAMED -Xss4m ${DKV_JAVA_OPTS:-} "$@" -cp "$DKV_LIB/*" dkv.cli.Dkv score \
      --model "$model" --samples "$P/$fam-work.jsonl" --plan "$P/$fam-plan.json" --device "$device" --dtype "$dtype" \
      --out "$P/$fam-scores.jsonl" ${DKV_SCORE_OPTS:-} > "$P/$fam-$log.log" 2>&1
  }
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 100 > "$P/$fam-util.txt" &
  smi=$!
  s=$SECONDS; score plain; plain_s=$((SECONDS - s))
  kill $smi 2>/dev/null || true
  s=$SECONDS
  score ops "-Ddkv.op-profile=$P/$fam-ops.txt" "-Ddkv.op-profile.timing=${DKV_PROFILE_TIMING:-events}" \
    "-Ddkv.op-profile.sites=${DKV_PROFILE_SITES:-true}"
  ops_s=$((SECONDS - s))
  "$py" - "$P/$fam-util.txt" "$P/$fam-scores.jsonl" "$plain_s" "$ops_s" <<'PY' | tee -a "$P/summary.txt"
import sys
rows = []
for line in open(sys.argv[1]):
    try:
        u, m = (float(x) for x in line.split(","))
        rows.append((u, m))
    except ValueError:
        pass
busy = [u for u, m in rows if m > 2000]  # samples once the weights are on the device
pairs = sum(1 for l in open(sys.argv[2]) if l.strip())
mean = sum(busy) / len(busy) if busy else float("nan")
print(f"pairs {pairs}; unprofiled run {sys.argv[3]} s (incl. start-up and loading), profiled {sys.argv[4]} s; "
      f"GPU utilisation while loaded: mean {mean:.1f}% over {len(busy)} samples of 0.1 s")
PY
  head -n $((top + 2)) "$P/$fam-ops.txt" | tee -a "$P/summary.txt"
done
echo "== [$((SECONDS - t0))s] done" | tee -a "$P/summary.txt"
