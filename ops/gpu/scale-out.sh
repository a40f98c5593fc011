#!/usr/bin/env bash
# Issue 8's scale-out on GPUs: one `dkv scorer` worker on one GPU against one worker per GPU on the same
# machine, through the stream. Per worker count: a fresh embedded broker (`dkv broker`), the workers
# (`dkv scorer --device cuda:I`, same consumer group) started and serving the model, then `dkv produce` of
# SAMPLES benchmark samples x the benchmark plan's 8 conditions (after an untimed warm-up experiment of
# WARMUP_SAMPLES_PER_WORKER (64) samples per worker, so that the group has settled and every worker has run its
# first batches); timed from the start of `produce` (the reader, `dkv export`, started a few seconds before) until
# `dkv export --expect SAMPLES x 8` has read every score committed on dkv.scores (so a lost or duplicated score
# fails the run). The workers' own counters (dkv_scorer_records_total) show work scored twice after rebalances.
# While timed, once a second: each worker's scores, its consumer's records_lag_max and its GPU's utilisation ($OUT/scale-out/wN/
# timeline.csv, summarised per worker by ops/gpu/timeline_summary.py), and the group assignments the workers print
# (rebalances). Model and workload: the random Mistral-7B-shaped bf16 model and MS MARCO-like samples of
# ops/gpu/bench (made here when missing). Logs go to $OUT/scale-out.
# Usage (GPU machine, repo root):  source ops/gpu/unpack.sh && ops/gpu/scale-out.sh [SAMPLES] [COUNTS]
#   (on a CPU, to try the flow: DKV_DEVICES="cpu cpu" DKV_BENCH_SHAPE=tiny DKV_BENCH_MODEL_DIR=/tmp/tiny ...)
#   SAMPLES default 768; COUNTS default "1 N" with N the number of GPUs; SCORER_OPTS extra `dkv scorer` flags
#   (default "--max-poll-records 32": a GPU wants many samples per batched call).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${DKV_JAVA:?source ops/gpu/unpack.sh first}" "${DKV_LIB:?source ops/gpu/unpack.sh first}"
export DJL_OFFLINE=true RUST_FLAVOR=cpu
PYTHON=${PYTHON:-/opt/torch/.venv/bin/python}
OUT=${OUT:-/tmp/dkv-out}
model=${DKV_BENCH_MODEL_DIR:-/tmp/dkv-bench/model}
samples=${1:-768}
# DKV_DEVICES: the devices worker 1, 2, ... use (default: every GPU; "cpu cpu" tries the flow on a CPU)
if [ -n "${DKV_DEVICES:-}" ]; then read -r -a devices <<< "$DKV_DEVICES"
else mapfile -t devices < <(nvidia-smi --query-gpu=index --format=csv,noheader | sed 's/^/cuda:/'); fi
counts=${2:-"1 ${#devices[@]}"}
if [ "${devices[0]}" != cpu ]; then
  export PYTORCH_LIBRARY_PATH=${PYTORCH_LIBRARY_PATH:-/opt/torch/.venv/lib/python3.12/site-packages/torch/lib}
fi
scorer_opts=${SCORER_OPTS:---max-poll-records 32}
run_dir="$OUT/scale-out"
mkdir -p "$run_dir"
dkv=("$DKV_JAVA" --enable-native-access=ALL-UNNAMED -Dorg.apache.avro.SERIALIZABLE_PACKAGES=dkv.avro -cp "$DKV_LIB/*" dkv.cli.Dkv)

if [ ! -f "$model/config.json" ]; then
  "$PYTHON" ops/gpu/bench/make_model.py --out "$model" --shape "${DKV_BENCH_SHAPE:-mistral-7b}" --device "${devices[0]}" 2>&1 | tail -1 \
    | tee "$run_dir/make-model.json"
fi
"$PYTHON" ops/gpu/bench/make_workload.py --tokenizer "$model" --out "$run_dir/work.jsonl" --plan "$run_dir/plan.json" \
  --samples "$samples" --seed 7 > "$run_dir/workload.json"
conditions=$("$PYTHON" -c "import json; print(len(json.load(open('$run_dir/plan.json'))['conditions']))")
"$PYTHON" -c "import json; p = json.load(open('$run_dir/plan.json')); p['experiment_id'] = 'warmup'; json.dump(p, open('$run_dir/plan-warmup.json', 'w'))"
warmup_per_worker=${WARMUP_SAMPLES_PER_WORKER:-64}
total=$((samples * conditions))

# shellcheck source=../bench/workers.sh
source ops/bench/workers.sh  # pids, cleanup, records_total, sample_timeline

nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader 2>/dev/null | tee "$run_dir/gpus.txt" || true
echo "workers  scores  seconds  scores/s   ($samples samples x $conditions conditions; scorer flags: $scorer_opts)" \
  | tee "$run_dir/scale-out.txt"
for n in $counts; do
  run="$run_dir/w$n"; mkdir -p "$run"; pids=()
  "${dkv[@]}" broker --port 0 > "$run/broker.out" 2> "$run/broker.log" & pids+=($!)
  for _ in $(seq 120); do grep -q '^bootstrap=' "$run/broker.out" 2>/dev/null && break; sleep 0.5; done
  bootstrap=$(sed -n 's/^bootstrap=//p' "$run/broker.out")
  ports=()
  for i in $(seq "$n"); do
    # shellcheck disable=SC2086 # scorer_opts is a list of flags
    "${dkv[@]}" scorer --bootstrap "$bootstrap" --model "$model" --model-id bench-mistral --device "${devices[$((i - 1))]}" \
      --worker-id "gpu-$n-$i" --metrics-port 0 $scorer_opts > "$run/scorer-$i.log" 2>&1 & pids+=($!)
  done
  for i in $(seq "$n"); do
    for _ in $(seq 480); do
      grep -q 'serving model' "$run/scorer-$i.log" 2>/dev/null && break
      kill -0 "${pids[$i]}" 2>/dev/null || break  # the worker exited
      sleep 0.25
    done
    grep -q 'serving model' "$run/scorer-$i.log" || { echo "worker $i did not start (see $run/scorer-$i.log)" >&2; exit 1; }
    ports+=("$(sed -n 's#.*metrics on http://[^:]*:\([0-9]*\)/metrics.*#\1#p' "$run/scorer-$i.log")")
  done
  # warm-up, untimed: every worker has joined the group, holds partitions and has run its first batches (CUDA
  # kernels loaded, allocator grown) before the clock starts
  warm=$((warmup_per_worker * n))
  "${dkv[@]}" produce --bootstrap "$bootstrap" --plan "$run_dir/plan-warmup.json" --dataset "$run_dir/work.jsonl" \
    --model-id bench-mistral --limit "$warm" > "$run/produce-warmup.log" 2>&1
  "${dkv[@]}" export --bootstrap "$bootstrap" --experiment warmup --expect $((warm * conditions)) --idle-timeout-ms 300000 \
    --timeout-ms 300000 --out "$run/warmup.jsonl" > "$run/export-warmup.log" 2>&1 \
    || { echo "warm-up of $n-worker run failed: $(tail -1 "$run/export-warmup.log")" >&2; exit 1; }
  warm_scored=$(records_total "${ports[@]}")
  # the reader starts first (its JVM start and group join are not the scorers' time), then the clock and produce
  "${dkv[@]}" export --bootstrap "$bootstrap" --experiment bench --expect "$total" --idle-timeout-ms 300000 --timeout-ms 600000 \
    --out "$run/scores.jsonl" > "$run/export.log" 2>&1 & export_pid=$!
  sleep 3
  holds_before=$(cat "$run"/scorer-*.log | grep -c ' holds ' || true)
  start=$(date +%s.%N)
  sample_timeline "$run/timeline.csv" "$start" "${devices[*]:0:$n}" "${ports[@]}" & sampler=$!
  "${dkv[@]}" produce --bootstrap "$bootstrap" --plan "$run_dir/plan.json" --dataset "$run_dir/work.jsonl" \
    --model-id bench-mistral > "$run/produce.log" 2>&1
  produced=$(date +%s.%N)
  # done = every score committed: `dkv export --expect` returns once it has read all of them (read_committed)
  wait "$export_pid" || { echo "export of $n-worker run failed: $(tail -1 "$run/export.log")" >&2; exit 1; }
  end=$(date +%s.%N)
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  timeline_row "$run/timeline.csv" "$start" "${devices[*]:0:$n}" "${ports[@]}"  # the counts at the end
  holds_after=$(cat "$run"/scorer-*.log | grep -c ' holds ' || true)
  scored=$(( $(records_total "${ports[@]}") - warm_scored ))  # more than $total when a rebalance made a batch be scored twice
  "$PYTHON" -c "s=$end-$start; print(f'{$n:7d}  {$total:6d}  {s:7.1f}  {$total/s:8.1f}   (scored {$scored}: {$scored - $total} re-scored after rebalances)')" \
    | tee -a "$run_dir/scale-out.txt"
  "$PYTHON" -c "print(f'  produce returned after {$produced - $start:.1f} s; the last score read {$end - $produced:.1f} s later')"
  echo "  group assignments printed while timed (rebalances): $((holds_after - holds_before))"
  "$PYTHON" ops/gpu/timeline_summary.py "$run/timeline.csv" "$(awk -v a="$produced" -v s="$start" 'BEGIN {print a - s}')" \
    | tee "$run/timeline-summary.txt"
  tail -1 "$run/export.log"
  cleanup; pids=()
done
"$PYTHON" - "$run_dir/scale-out.txt" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:] if l.strip()]
if len(rows) >= 2:
    base = float(rows[0][3])
    for r in rows[1:]:
        print(f"{r[0]} workers / 1 worker: throughput x{float(r[3]) / base:.2f}")
PY
