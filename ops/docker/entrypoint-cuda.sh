#!/bin/sh
# Points dkv at the image's torch install (its torch/lib holds libtorch + the CUDA libraries), unless
# PYTORCH_LIBRARY_PATH is already set, then runs the dkv CLI with the given subcommand.
set -eu
if [ -z "${PYTORCH_LIBRARY_PATH:-}" ]; then
  PYTORCH_LIBRARY_PATH=$(python -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))") || {
    echo "dkv: no torch install found by 'python -c import torch'; set PYTORCH_LIBRARY_PATH to a torch/lib directory" >&2
    exit 2
  }
  export PYTORCH_LIBRARY_PATH
fi
exec java --enable-native-access=ALL-UNNAMED -XX:MaxRAMPercentage=75 -cp '/opt/dkv/lib/*' dkv.cli.Dkv "$@"
