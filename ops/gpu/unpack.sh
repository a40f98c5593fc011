# Sourced on the GPU machine: unpacks .runtime/dkv-pack.tar.xz (made by ops/gpu/pack.sh) and exports
# DKV_JAVA, DKV_LIB and the torch install every ops/gpu script uses.
mkdir -p /tmp/dkv && tar -C /tmp/dkv -xJf .runtime/dkv-pack.tar.xz
export DKV_JAVA=/tmp/dkv/jre/bin/java
export DKV_LIB=/tmp/dkv/lib
export PYTORCH_LIBRARY_PATH=${PYTORCH_LIBRARY_PATH:-/opt/torch/.venv/lib/python3.12/site-packages/torch/lib}
export DJL_OFFLINE=true
export OUT=${OUT:-/tmp/dkv-out}
mkdir -p "$OUT"
