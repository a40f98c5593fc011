# Sourced by the bench scripts (run.sh, run_generate.sh, run_t5gemma.sh, run_glm.sh, profile.sh): what each of them
# did for itself — checking the Java side, timing its steps, building (or reusing) its random bench model.

# bench_require_java: DKV_JAVA and DKV_LIB must be set (from `source ops/gpu/unpack.sh`) for a run with Java.
bench_require_java() {
  : "${DKV_JAVA:?set DKV_JAVA to the java binary (source ops/gpu/unpack.sh), or pass --no-java}"
  : "${DKV_LIB:?set DKV_LIB to the directory of dkv jars (source ops/gpu/unpack.sh), or pass --no-java}"
}

# bench_steps FILE: defines `step NAME`, which prints "== [Ns] NAME" (seconds since now) and appends it to FILE.
bench_steps() {
  bench_steps_file=$1
  bench_steps_start=$SECONDS
  step() {
    echo "== [$((SECONDS - bench_steps_start))s] $1" | tee -a "$bench_steps_file"
  }
}

# bench_model SCRIPT MAKER MARKER MODEL SHAPE DTYPE DEVICE FRESH LOG
# Builds the bench model at MODEL with MAKER (make_model.py, make_t5gemma_model.py or make_glm_model.py, beside this
# file) unless MODEL holds one that MAKER made with this SHAPE and DTYPE (its MARKER file says so) and FRESH is not 1.
# Never replaces a directory whose files MAKER did not write. The maker's JSON line (or the reused marker) goes to
# LOG.json, its stderr to LOG.log too (e.g. LOG = $OUT/make-model).
bench_model() {
  local script=$1 maker=$2 marker=$3 model=$4 shape=$5 dtype=$6 device=$7 fresh=$8 log=$9
  local here py
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  py=${DKV_PYTHON:-/opt/torch/.venv/bin/python}
  if [[ $fresh == 1 || ! -f "$model/$marker" ]] || ! grep -q "\"shape\": \"$shape\"" "$model/$marker" \
     || ! grep -q "\"dtype\": \"$dtype\"" "$model/$marker"; then
    if [[ -d "$model" && -n "$(ls -A "$model")" && ! -f "$model/$marker" ]]; then
      echo "$script: $model holds files that $maker did not write; not replacing it" >&2; exit 2
    fi
    rm -rf "$model"
    mkdir -p "$(dirname "$model")"
    "$py" "$here/$maker" --out "$model" --shape "$shape" --device "$device" --dtype "$dtype" \
      2> >(tee "$log.log" >&2) | tee "$log.json"
  else
    echo "reusing $model (--fresh-model rebuilds it)"
    cp "$model/$marker" "$log.json"
  fi
}
