"""Batched prediction in one process: ``f.predict`` of a 784-512-512-10 relu/softmax
MLP (float32) at threads=1 and threads=2, idle and with one core kept busy by
another process (a ``python -c 'while True: pass'`` child), against a plain serial
loop of ordinary calls ``f(batch)`` (numba and BLAS at their default thread counts).

Rounds are interleaved (every configuration once per round); the table shows
medians, rows/s, and each run's speed relative to threads=1 under the same load
(and loaded over idle). Also checks that every run's result is bit-identical to
threads=1's.

    python benchmarks/bench_batch.py [--rows 200000] [--batch-size 1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent.parent / "examples"))
from batch_predict import build_mlp  # noqa: E402

from symgraph.runtime.threads import available_cores, blas_get_threads  # noqa: E402
from symgraph.runtime.tiered import wait_all  # noqa: E402


def _runs(f, xs, batch_size: int, plain: bool):
    runs = {
        "predict threads=1": lambda: f.predict(xs, batch_size=batch_size, threads=1,
                                               progress=False),
        "predict threads=2": lambda: f.predict(xs, batch_size=batch_size, threads=2,
                                               progress=False),
    }
    if plain:
        runs["serial loop f(batch)"] = lambda: np.concatenate(
            [f(xs[lo:lo + batch_size]) for lo in range(0, len(xs), batch_size)])
    return runs


def _measure(runs: dict, rounds: int) -> tuple[dict, dict]:
    times: dict[str, list[float]] = {name: [] for name in runs}
    results: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-plain", action="store_true",
                        help="skip the plain serial loop (the slowest row)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    f = build_mlp(rng)
    xs = rng.random((args.rows, 784), dtype=np.float32)
    runs = _runs(f, xs, args.batch_size, not args.no_plain)
    # compile and warm up every path on a few batches
    _measure(_runs(f, xs[:4 * args.batch_size], args.batch_size, not args.no_plain), 1)
    wait_all()  # tiered execution: the kernels compile in the background

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    medians = {}
    identical = True
    for load in ("idle", "one core busy"):
        child = None
        if load != "idle":
            child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(0.5)  # let it get going
        try:
            med, results = _measure(runs, args.rounds)
        finally:
            if child is not None:
                child.kill()
                child.wait()
        medians[load] = med
        reference = results["predict threads=1"]
        identical &= all(bool(np.array_equal(results[name], reference))
                         for name in results if name != "serial loop f(batch)")

    print(f"f.predict, 784-512-512-10 relu/softmax MLP float32, {args.rows:,} rows, "
          f"batches of {args.batch_size}; {available_cores()} cores available, "
          f"BLAS default {blas_get_threads()} threads; median of {args.rounds} "
          "interleaved rounds")
    header = (f"{'load':<15}{'run':<24}{'median s':>10}{'rows/s':>12}"
              f"{'vs threads=1':>14}{'loaded/idle':>13}")
    print(header)
    print("-" * len(header))
    for load, med in medians.items():
        base = med["predict threads=1"]
        for name, seconds in med.items():
            vs_idle = "" if load == "idle" else f"{medians['idle'][name] / seconds:.2f}x"
            print(f"{load:<15}{name:<24}{seconds:>10.3f}{args.rows / seconds:>12,.0f}"
                  f"{base / seconds:>13.2f}x{vs_idle:>13}")
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"1-minute load average of the machine: {load_before:.2f} before, "
          f"{load_after:.2f} after (other processes than this benchmark's count there)")
    print(f"every predict run bit-identical to threads=1 (idle and loaded): {identical}")


if __name__ == "__main__":
    main()
