#!/usr/bin/env bash
# Does adding a scorer process raise throughput? Runs the bundled demo experiment through a fresh embedded
# broker once per worker count (default: 1 then 2 processes, one libtorch thread each, same consumer group)
# and reports scores/s from the moment every worker has joined until all scores are counted in the workers'
# own Prometheus counters (dkv_scorer_records_total). Also prints the consumer-lag series the workers export.
# Usage (repository root, after ./mvnw -DskipTests install):  ops/bench/scale-out.sh [SAMPLES] [COUNTS]
#   SAMPLES: demo samples to score (default 200 = 1600 scores); COUNTS: worker counts (default "1 2")
#   SCORER_OPTS: extra `dkv scorer` flags, e.g. "--max-poll-records 16"
set -euo pipefail
cd "$(dirname "$0")/../.."
samples=${1:-200}
counts=${2:-1 2}
out=$(mktemp -d /tmp/dkv-scale-out.XXXXXX)
export DKV_NO_BUILD=1 OMP_NUM_THREADS=1
conditions=$(python3 -c 'import json; print(len(json.load(open("demo/plan.json"))["conditions"]))')
total=$((samples * conditions))
# shellcheck source=../bench/workers.sh
source ops/bench/workers.sh  # pids, cleanup, records_total

echo "workers  scores  seconds  scores/s   (demo plan, $samples samples x $conditions conditions, 1 thread per worker; logs: $out)"
for n in $counts; do
  run="$out/w$n"; mkdir -p "$run"; pids=()
  ./dkv broker --port 0 > "$run/broker.out" 2> "$run/broker.log" & pids+=($!)
  for _ in $(seq 120); do grep -q '^bootstrap=' "$run/broker.out" 2>/dev/null && break; sleep 0.5; done
  bootstrap=$(sed -n 's/^bootstrap=//p' "$run/broker.out")
  ./dkv produce --bootstrap "$bootstrap" --plan demo/plan.json --dataset demo/samples.jsonl --limit "$samples" \
    > "$run/produce.log" 2>&1
  ports=()
  for i in $(seq "$n"); do
    ./dkv scorer --bootstrap "$bootstrap" --model demo/model --model-id dkv-tiny-llama --threads 1 \
      --worker-id "scale-$n-$i" --metrics-port 0 ${SCORER_OPTS:-} > "$run/scorer-$i.log" 2>&1 & pids+=($!)
  done
  for i in $(seq "$n"); do
    for _ in $(seq 240); do grep -q 'serving model' "$run/scorer-$i.log" 2>/dev/null && break; sleep 0.25; done
    ports+=("$(sed -n 's#.*metrics on http://[^:]*:\([0-9]*\)/metrics.*#\1#p' "$run/scorer-$i.log")")
  done
  start=$(date +%s.%N)
  for _ in $(seq 1200); do
    [ "$(records_total "${ports[@]}")" -ge "$total" ] && break
    sleep 0.25
  done
  end=$(date +%s.%N)
  done_records=$(records_total "${ports[@]}")
  curl -s "http://127.0.0.1:${ports[0]}/metrics" | grep -i 'records_lag' | grep -v '^#' | head -3 > "$run/lag.txt" || true
  python3 -c "s=$end-$start; print(f'{$n:7d}  {$done_records:6d}  {s:7.1f}  {$done_records/s:8.1f}')"
  cleanup; pids=()
done
echo "consumer-lag series exported by a worker (first 3):"; cat "$out"/w*/lag.txt | head -3
