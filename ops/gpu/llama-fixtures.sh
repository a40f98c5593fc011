#!/usr/bin/env bash
# Scores the Llama-family reference fixtures (scorers/src/test/resources/fixtures/*, written on CPU by
# ops/reference/llama_fixtures.py with HF transformers in float32) on the GPU through dkv's Java scorer and
# reports max |dNLL| per fixture: float32 must stay within 1e-3 (exit 1 otherwise); bfloat16 is reported
# (the spread) without a limit.
# Needs DKV_JAVA (java binary) and DKV_LIB (dir of all runtime jars): `source ops/gpu/unpack.sh` sets both
# after ops/gpu/pack.sh. libtorch comes from PYTORCH_LIBRARY_PATH. Logs go to $OUT.
# Usage (GPU machine, repo root):  source ops/gpu/unpack.sh && [ONLY=llama,gemma3,t5gemma2] ops/gpu/llama-fixtures.sh [cuda:N]
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${DKV_JAVA:?set DKV_JAVA to the java binary (source ops/gpu/unpack.sh)}"
: "${DKV_LIB:?set DKV_LIB to the directory of dkv runtime jars (source ops/gpu/unpack.sh)}"
export PYTORCH_LIBRARY_PATH=${PYTORCH_LIBRARY_PATH:-/opt/torch/.venv/lib/python3.12/site-packages/torch/lib}
export DJL_OFFLINE=true RUST_FLAVOR=cpu
OUT=${OUT:-/tmp/dkv-out}
mkdir -p "$OUT"
device=${1:-cuda:0}
fixtures=scorers/src/test/resources/fixtures

check() {
  "$DKV_JAVA" --enable-native-access=ALL-UNNAMED -Dorg.apache.avro.SERIALIZABLE_PACKAGES=dkv.avro \
    -cp "$DKV_LIB/*" dkv.scorers.score.FixtureCheck --fixtures "$fixtures" --device "$device" ${ONLY:+--only "$ONLY"} "$@"
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/llama-fixtures-gpu.txt" || true
set +e
check --dtype float32 --tolerance 1e-3 2>&1 | tee "$OUT/llama-fixtures-float32.log"
rc=${PIPESTATUS[0]}
check --dtype bfloat16 --tolerance Infinity 2>&1 | tee "$OUT/llama-fixtures-bfloat16.log"
rc_bf16=${PIPESTATUS[0]}
set -e
echo "float32 exit $rc, bfloat16 exit $rc_bf16" | tee "$OUT/llama-fixtures-summary.txt"
[ "$rc" -eq 0 ] && [ "$rc_bf16" -eq 0 ]
