#!/usr/bin/env python3
"""Summarises a scale-out run's timeline (ops/bench/workers.sh sample_timeline: once a second per worker, its scores
so far, its consumer's records_lag_max and its GPU's utilisation) into where each worker's time went:

  python timeline_summary.py timeline.csv PRODUCE_SECONDS

Per worker: scores while timed and their rate, the mean GPU utilisation over the seconds it held work (from the first
sample to the last at which its count still grew), and the seconds in that span in which it scored nothing although
its partitions had lag (waiting on polls, commits or a rebalance). For the group: the peak of the workers'
records_lag_max summed (Kafka's per-client largest partition lag over recent fetches, in WorkItems: an indicator,
not the exact backlog), when produce returned, and when that lag was last seen above zero.
"""
import csv
import sys


def main():
    path, produce_s = sys.argv[1], float(sys.argv[2])
    rows = list(csv.DictReader(open(path)))
    if not rows:
        print("  timeline: no samples")
        return
    by_worker = {}
    for r in rows:
        by_worker.setdefault(r["worker"], []).append(r)
    totals = {}
    for r in rows:
        totals[float(r["seconds"])] = totals.get(float(r["seconds"]), 0) + max(0, int(r["records_lag_max"] or 0))
    times = sorted(totals)
    peak = max(totals.values())
    last_lag = max((t for t in times if totals[t] > 0), default=0.0)
    print(f"  timeline: {len(times)} samples over {times[-1]:.1f} s; produce returned at {produce_s:.1f} s; "
          f"peak records_lag_max (workers summed) {peak} WorkItems, last above 0 at {last_lag:.1f} s")
    for worker, samples in sorted(by_worker.items(), key=lambda kv: int(kv[0])):
        scored = [int(s["scored"]) for s in samples]
        grew = [i for i in range(1, len(samples)) if scored[i] > scored[i - 1]]
        if not grew:
            print(f"  worker {worker}: scored nothing while timed")
            continue
        first, last = grew[0] - 1, grew[-1]
        span = samples[first:last + 1]
        seconds = float(span[-1]["seconds"]) - float(span[0]["seconds"])
        done = scored[last] - scored[first]
        utils = [float(s["gpu_util"]) for s in span if s["gpu_util"]]
        util = f"{sum(utils) / len(utils):.0f}%" if utils else "n/a (no GPU)"
        stalled = sum(1 for i in range(first + 1, last + 1)
                      if scored[i] == scored[i - 1] and int(samples[i]["records_lag_max"] or 0) > 0)
        print(f"  worker {worker}: {done} scores in {seconds:.1f} s ({done / seconds if seconds else 0:.1f}/s); "
              f"GPU utilisation {util}; {stalled} s with lag but no new scores")


if __name__ == "__main__":
    main()
