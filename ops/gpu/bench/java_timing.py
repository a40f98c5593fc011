#!/usr/bin/env python3
"""Times `dkv score` from outside and writes compare.py's Java timing JSON
{"pairs": N, "seconds": S, "peak_bytes": B, ...}.

A whole `dkv score` process also starts a JVM and loads 14.5 GB of weights, which hf_bench.py leaves out of
its timed region. So the command runs twice: on the workload itself (its scores are the ones compared with
HF's, pair by pair) and on the workload repeated --repeat times (sample ids suffixed "~rK"). Throughput is the
difference: pairs = pairs(repeated) - pairs(once), seconds = wall(repeated) - wall(once); start-up, weight
loading and warm-up cancel out. The repeats make the difference long enough (several seconds at the expected
rates) that run-to-run jitter of the start-up stays small against it. Both wall times are recorded.

Peak memory: nvidia-smi's memory.used on the device, polled every --poll seconds during the repeated run,
minus its value before the run. Unlike torch.cuda.max_memory_allocated (hf_bench.py's peak_bytes) it includes
the CUDA context and the caching allocator's reserve: compare it with hf_bench.py's peak_reserved_bytes.
The same poll reads utilization.gpu, clocks.sm and power.draw: "busy" summarises them over the scoring
stretch (the longest run of samples at >= 50% utilization, short dips inside it included, so start-up and weight
loading stay out), and every sample is written to <scores>.gpu.csv.

  python java_timing.py --work work.jsonl --repeat 8 --scores java.jsonl --out java-timing.json \\
      -- JAVA ... dkv.cli.Dkv score --model M --samples {work} --plan P --out {out}
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time


GPU_FIELDS = ("memory.used", "utilization.gpu", "clocks.sm", "power.draw")


def gpu_sample(gpu):
    """(memory.used bytes, utilization %, SM clock MHz, power W) of the device, or None."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=" + ",".join(GPU_FIELDS), "--format=csv,noheader,nounits",
                              "-i", gpu], capture_output=True, text=True, timeout=10).stdout.strip()
        used, util, clock, power = (v.strip() for v in out.splitlines()[0].split(","))
        return int(used) * 2 ** 20, float(util), float(clock), float(power)
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def gpu_used_bytes(gpu):
    sample = gpu_sample(gpu)
    return sample[0] if sample else None


class PeakPoller(threading.Thread):
    def __init__(self, gpu, every):
        super().__init__(daemon=True)
        self.gpu, self.every, self.peak, self.stop = gpu, every, None, threading.Event()
        self.samples = []  # (seconds since start, used bytes, utilization, SM clock, power)

    def run(self):
        t0 = time.perf_counter()
        while not self.stop.is_set():
            sample = gpu_sample(self.gpu)
            if sample is not None:
                self.peak = sample[0] if self.peak is None else max(self.peak, sample[0])
                self.samples.append((round(time.perf_counter() - t0, 2),) + sample)
            self.stop.wait(self.every)

    def busy(self, gap=2):
        """Means over the scoring stretch: the longest run of samples at >= 50% utilization, dips of up to `gap`
        samples inside it included (a call's readback), so that start-up and weight loading stay out."""
        hot = [i for i, s in enumerate(self.samples) if s[2] >= 50]
        if not hot:
            return None
        stretches, first, last = [], hot[0], hot[0]
        for i in hot[1:]:
            if i - last > gap + 1:
                stretches.append((first, last))
                first = i
            last = i
        stretches.append((first, last))
        first, last = max(stretches, key=lambda fl: self.samples[fl[1]][0] - self.samples[fl[0]][0])
        window = self.samples[first:last + 1]
        mean = lambda k: round(sum(s[k] for s in window) / len(window), 1)
        return {"seconds": round(window[-1][0] - window[0][0], 2), "samples": len(window),
                "utilization_mean": mean(2), "sm_clock_mean_mhz": mean(3), "power_mean_w": mean(4)}

    def write_csv(self, path):
        with open(path, "w") as f:
            f.write("seconds,memory_used_bytes,utilization_gpu,clocks_sm_mhz,power_w\n")
            f.writelines(",".join(str(v) for v in s) + "\n" for s in self.samples)


def timed(command, work, out, log, timeout, poller=None):
    """Wall seconds of one run of the command with {work} and {out} filled in."""
    argv = [a.replace("{work}", work).replace("{out}", out) for a in command]
    if poller:
        poller.start()
    t0 = time.perf_counter()
    try:
        with open(log, "w") as f:
            proc = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"java run exceeded --timeout {timeout}s (log: {log}): {' '.join(argv)}")
    finally:
        if poller:
            poller.stop.set()
            poller.join()
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        with open(log) as f:
            tail = f.read()[-2000:]
        raise SystemExit(f"java run failed (exit {proc.returncode}, log {log}): {' '.join(argv)}\n{tail}")
    return seconds


def repeated(work_lines, times):
    """The workload `times` over, each copy's sample ids suffixed so that every pair stays distinct."""
    out = []
    for k in range(times):
        for line in work_lines:
            record = json.loads(line)
            record["id"] = f"{record['id']}~r{k}"
            out.append(json.dumps(record) + "\n")
    return out


def count_lines(path):
    with open(path) as f:
        return sum(1 for line in f if line.strip())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", required=True, help="the samples JSONL")
    p.add_argument("--repeat", type=int, default=8, help="copies of the workload in the second run (>= 2)")
    p.add_argument("--scores", required=True, help="scores of the workload itself ({out} of the first run)")
    p.add_argument("--out", required=True, help="timing JSON to write")
    p.add_argument("--gpu", default="0", help="nvidia-smi index of the device")
    p.add_argument("--poll", type=float, default=0.2)
    p.add_argument("--timeout", type=float, default=240, help="seconds per run")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command, with {work} and {out}")
    args = p.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command or not any("{work}" in a for a in command) or not any("{out}" in a for a in command):
        raise SystemExit("give the command after --, with {work} (samples file) and {out} (scores file) in it")
    if args.repeat < 2:
        raise SystemExit("--repeat must be at least 2")

    with open(args.work) as f:
        lines = [line for line in f if line.strip()]
    base = os.path.splitext(args.scores)[0]
    many_work, many_scores = base + ".repeated-work.jsonl", base + ".repeated.jsonl"
    with open(many_work, "w") as f:
        f.writelines(repeated(lines, args.repeat))

    once_seconds = timed(command, args.work, args.scores, base + ".log", args.timeout)
    once_pairs = count_lines(args.scores)
    before = gpu_used_bytes(args.gpu)
    poller = PeakPoller(args.gpu, args.poll)
    many_seconds = timed(command, many_work, many_scores, base + ".repeated.log", args.timeout, poller)
    many_pairs = count_lines(many_scores)
    if many_pairs <= once_pairs or many_seconds <= once_seconds:
        raise SystemExit(f"no difference to time: {once_pairs} pairs in {once_seconds:.2f}s, "
                         f"{many_pairs} pairs in {many_seconds:.2f}s")
    pairs, seconds = many_pairs - once_pairs, many_seconds - once_seconds
    peak = poller.peak - (before or 0) if poller.peak is not None else None
    poller.write_csv(base + ".gpu.csv")
    timing = {"pairs": pairs, "seconds": round(seconds, 4), "peak_bytes": peak,
              "method": f"difference of two runs: the workload x{args.repeat} minus the workload once",
              "peak_method": "nvidia-smi memory.used during the repeated run minus before it",
              "busy": poller.busy(),
              "fixed_seconds": round(once_seconds - once_pairs * seconds / pairs, 3),
              "once": {"pairs": once_pairs, "seconds": round(once_seconds, 3)},
              "repeated": {"pairs": many_pairs, "seconds": round(many_seconds, 3), "repeat": args.repeat}}
    with open(args.out, "w") as f:
        json.dump(timing, f, indent=1)
    print(json.dumps(timing), flush=True)


if __name__ == "__main__":
    sys.exit(main())
