"""Mean device time of a CUDA callable, for the bench's micro-checks (gemm_check.py, elementwise_check.py)."""
import torch


def timed(fn, repeat=20, warm=3):
    """Seconds per call: `warm` untimed calls, then `repeat` calls between two CUDA events."""
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeat):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1000 / repeat
