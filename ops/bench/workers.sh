# Sourced by the scale-out scripts (ops/bench/scale-out.sh, ops/gpu/scale-out.sh): the worker processes they start
# and the scores those workers report.
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

records_total() {  # sum of dkv_scorer_records_total over the given metrics ports
  local sum=0 port v
  for port in "$@"; do
    v=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^dkv_scorer_records_total/ {s += $2} END {print s + 0}')
    sum=$((sum + ${v%.*}))
  done
  echo "$sum"
}
