#!/usr/bin/env bash
# GPU check of the dkv torch runtime (scorers/src/main/java/dkv/scorers/torch):
#   1. the op checks (every op vs a double-precision Java reference) on cuda:0 in float32, bfloat16 and float16,
#      and on the CPU of the same libtorch;
#   2. the micro-benchmark from Java and from Python torch on the same GPU, printed side by side:
#      per-op dispatch overhead (us) and bf16 matmul TFLOP/s.
#
# Needs: DKV_JAVA (path to a java 25 binary) and DKV_LIB (directory holding dkv-scorers and its runtime jars).
# Optional: DKV_PYTHON (default /opt/torch/.venv/bin/python), PYTORCH_LIBRARY_PATH (default: that Python's
# torch/lib), DKV_DEVICE (default cuda:0), DKV_BENCH_SIZES (default 4096,8192), OUT (log directory).
#
#   DKV_JAVA=/opt/dkv/jre/bin/java DKV_LIB=/opt/dkv/lib ops/gpu/torch-check.sh
set -euo pipefail

: "${DKV_JAVA:?set DKV_JAVA to the java binary}"
: "${DKV_LIB:?set DKV_LIB to the directory of runtime jars}"
here=$(cd "$(dirname "$0")" && pwd)
py=${DKV_PYTHON:-/opt/torch/.venv/bin/python}
device=${DKV_DEVICE:-cuda:0}
sizes=${DKV_BENCH_SIZES:-4096,8192}
logs=${OUT:-$(mktemp -d /tmp/torch-check.XXXXXX)}
mkdir -p "$logs"
if [[ -z "${PYTORCH_LIBRARY_PATH:-}" ]]; then
  PYTORCH_LIBRARY_PATH=$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
fi
export PYTORCH_LIBRARY_PATH
export DJL_OFFLINE=true
java=("$DKV_JAVA" --enable-native-access=ALL-UNNAMED -Xss4m -cp "$DKV_LIB/*")

echo "== libtorch: $PYTORCH_LIBRARY_PATH; logs: $logs"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | tee "$logs/torch-gpu.txt" || true

status=0
echo "== op checks on $device"
"${java[@]}" dkv.scorers.torch.check.OpChecks --device "$device" --dtype float32,bfloat16,float16 \
  | tee "$logs/torch-opchecks-${device/:/}.log" | grep -v '^ok ' || status=1
echo "== op checks on cpu (same libtorch)"
"${java[@]}" dkv.scorers.torch.check.OpChecks --device cpu --dtype float32,bfloat16 \
  | tee "$logs/torch-opchecks-cpu.log" | grep -v '^ok ' || status=1

echo "== micro-benchmark (Java)"
"${java[@]}" dkv.scorers.torch.bench.TorchMicroBench --device "$device" --sizes "$sizes" \
  | tee "$logs/torch-bench-java.txt" || status=1
echo "== micro-benchmark (Python)"
"$py" "$here/torch_bench.py" --device "$device" --sizes "$sizes" | tee "$logs/torch-bench-python.txt" || status=1

echo "== side by side"
awk '
  FNR == 1 { file++ }
  /^#/ { next }
  file == 1 { java[$1] = $2; order[++n] = $1 }
  file == 2 { py[$1] = $2 }
  END {
    printf "%-26s %12s %12s %16s\n", "metric", "java", "python", "python(inference)"
    for (i = 1; i <= n; i++) {
      k = order[i]
      inf = ("inference." k in py) ? py["inference." k] : "-"
      printf "%-26s %12s %12s %16s\n", k, java[k], (k in py ? py[k] : "-"), inf
    }
  }' "$logs/torch-bench-java.txt" "$logs/torch-bench-python.txt" | tee "$logs/torch-bench-side-by-side.txt"
exit $status
