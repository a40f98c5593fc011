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

# One CSV row per worker: seconds since START (epoch seconds, fractional), the worker, its scores so far
# (dkv_scorer_records_total), its consumer's records_lag_max (Kafka's largest lag of a partition it holds, in
# WorkItems, over the client's recent fetches: the lag the worker exports; -1 before its first fetch) and the
# utilisation % of its device when that is a GPU (else empty).
#   timeline_row OUT.csv START "DEVICE_1 DEVICE_2 ..." PORT_1 PORT_2 ...
timeline_row() {
  local out=$1 start=$2 devices port i=0 t metrics scored lag util utils
  read -r -a devices <<< "$3"; shift 3
  t=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN {printf "%.1f", n - s}')
  utils=$(nvidia-smi --query-gpu=index,utilization.gpu --format=csv,noheader,nounits 2>/dev/null || true)
  for port in "$@"; do
    metrics=$(curl -s "http://127.0.0.1:$port/metrics")
    scored=$(awk '/^dkv_scorer_records_total/ {s += $2} END {printf "%d", s}' <<< "$metrics")
    lag=$(awk '/^kafka_consumer_fetch_manager_records_lag_max\{/ {v = ($2 == "NaN" ? -1 : $2)} END {printf "%d", (v == "" ? -1 : v)}' <<< "$metrics")
    util=""
    case ${devices[$i]} in cuda:*) util=$(awk -F', *' -v d="${devices[$i]#cuda:}" '$1 == d {print $2}' <<< "$utils") ;; esac
    echo "$t,$((i + 1)),$scored,$lag,$util" >> "$out"
    i=$((i + 1))
  done
}

# timeline_row once a second until killed, after a header (same arguments).
sample_timeline() {
  echo "seconds,worker,scored,records_lag_max,gpu_util" > "$1"
  while :; do
    timeline_row "$@"
    sleep 1
  done
}
