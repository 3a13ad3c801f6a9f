"""Shared helpers of the benchmarks: interleaved timing, the machine's description, atomic JSON results.

Timings on shared machines drift by tens of percent between runs, so every benchmark times its candidates
interleaved (A, B, C, A, B, C, ...) in one process and compares medians measured under the same conditions.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def add_results_name_argument(parser, default: str) -> None:
    """``--results-name NAME``: where a benchmark writes its JSON (bench/results/NAME.json)."""
    parser.add_argument("--results-name", default=default,
                        help="writes bench/results/NAME.json (another name keeps a second run's figures beside the "
                             "first)")


def single_thread() -> None:
    """Pin every math library to one thread (must run before numpy/torch are imported to catch all of them)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = "1"


def time_interleaved(candidates: dict[str, Callable[[], object]], repeats: int = 20, warmup: int = 2
                     ) -> dict[str, dict[str, float]]:
    """Median and minimum seconds per call of each candidate, timed round-robin."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: {"median_s": statistics.median(v), "min_s": min(v)} for name, v in samples.items()}


def machine() -> dict[str, object]:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, object] = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
                               "torch": torch.__version__}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def write_results(name: str, results: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    cells = [[str(h) for h in headers]] + [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for k, r in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))
