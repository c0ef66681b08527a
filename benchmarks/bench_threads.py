"""Threads under load: symgraph with its default thread settings against one thread,
on idle cores and with other processes keeping cores busy.

    python benchmarks/bench_threads.py            # all workloads, idle and loaded
    python benchmarks/bench_threads.py --quick    # smaller sizes, fewer calls

Each (settings, load) pair runs in a fresh process: "1 thread" sets
``SYMGRAPH_NUM_THREADS=1`` and ``OPENBLAS_NUM_THREADS=1`` (numba's and BLAS's pools
both one thread), "default" sets nothing (what a user gets). The load is one
``while True: pass`` process per busy core, started before the measuring process and
stopped after it. Every workload is warmed up (compiled, tiers settled) and timed as the
median of ``--calls`` calls, after 0.6 s of calls that let the load policy
(``symgraph.kernels.load``) see the current load.

Issue 13's targets: with the defaults and the cores busy, no workload is slower than 1.3x
its one-thread time under the same load; with idle cores, large work (>= 10M elements,
big matmuls) runs >= 1.6x faster than one thread on 2 cores. Only ratios are printed next
to the medians: the machine is shared and absolute times move between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

#: workload key -> (title, large work: held to the idle-scaling target)
WORKLOADS = {
    "train": ("MLP 784-512-512-10 training step, batch 128", False),
    "infer": ("MLP 784-512-512-10 inference, batch 256", False),
    "chain": ("elementwise chain, 10M float32", True),
    "softmax": ("softmax over the last axis, 4096x4096 float32", True),
    "matmul": ("matmul 2048x2048 float32", True),
    "small": ("elementwise chain, 100k float32", False),
}

_CHILD = r"""
import json, statistics, sys, time
import numpy as np
import symgraph.backend as K
from symgraph.runtime.tiered import wait_all
quick, calls, keys = {quick}, {calls}, {keys!r}
rng = np.random.default_rng(0)
F = np.float32

def mlp(sizes=(784, 512, 512, 10)):
    ws = [K.variable(rng.normal(scale=np.sqrt(2 / a), size=(a, b)).astype(F))
          for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [K.variable(np.zeros(b, F)) for b in sizes[1:]]
    x, y = K.placeholder((None, sizes[0])), K.placeholder((None, sizes[-1]))
    h = x
    for w, b in zip(ws[:-1], bs[:-1]):
        h = K.relu(K.dot(h, w) + b)
    probs = K.softmax(K.dot(h, ws[-1]) + bs[-1])
    return x, y, ws + bs, probs

def build(key):
    if key in ("train", "infer"):
        x, y, params, probs = mlp()
        n = 128 if key == "train" else 256
        xv = rng.normal(size=(n, 784)).astype(F)
        if key == "infer":
            f = K.function([x], [probs])
            return lambda: f([xv])
        yv = np.eye(10, dtype=F)[rng.integers(0, 10, n)]
        loss = K.mean(K.categorical_crossentropy(y, probs))
        grads = K.gradients(loss, params)
        f = K.function([x, y], [loss],
                       updates=[K.update_sub(p, 0.001 * g) for p, g in zip(params, grads)])
        return lambda: f([xv, yv])
    if key in ("chain", "small"):
        n = (10_000_000 if key == "chain" else 100_000) // (10 if quick else 1)
        x = K.placeholder((None,))
        y = K.relu(x * 0.5 + 0.1) * K.sigmoid(x) + K.square(K.tanh(x))
        f = K.function([x], [y])
        xv = rng.normal(size=n).astype(F)
        return lambda: f([xv])
    if key == "softmax":
        n = 1024 if quick else 4096
        x = K.placeholder((None, n))
        f = K.function([x], [K.softmax(x)])
        xv = rng.normal(size=(n, n)).astype(F)
        return lambda: f([xv])
    if key == "matmul":
        n = 1024 if quick else 2048
        a, b = K.placeholder((n, n)), K.placeholder((n, n))
        f = K.function([a, b], [K.dot(a, b)])
        av, bv = rng.normal(size=(n, n)).astype(F), rng.normal(size=(n, n)).astype(F)
        return lambda: f([av, bv])
    raise ValueError(key)

out = {{}}
for key in keys:
    run = build(key)
    run()
    wait_all()
    settle = time.perf_counter()
    while time.perf_counter() - settle < 0.6:  # the load policy's view of the cores
        run()                                  # catches up (kernels.load.INTERVAL)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    out[key] = statistics.median(times)
print(json.dumps(out))
"""


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def measure(settings: str, busy: int, keys: list, quick: bool, calls: int) -> dict:
    """Median seconds per workload in a fresh process with ``settings`` ('1 thread' or
    'default') while ``busy`` spinning processes keep cores busy."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    if settings == "1 thread":
        env.update(SYMGRAPH_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                   MKL_NUM_THREADS="1")
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(busy)]
    try:
        if spinners:
            time.sleep(0.5)  # let them get going
        code = _CHILD.format(quick=quick, calls=calls, keys=keys)
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=1800, cwd=ROOT)
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else
                           f"exit status {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few calls")
    parser.add_argument("--calls", type=int, default=None, help="timed calls per workload")
    parser.add_argument("--only", default=",".join(WORKLOADS),
                        help=f"comma-separated workloads of {','.join(WORKLOADS)}")
    parser.add_argument("--json", help="write the raw medians here")
    args = parser.parse_args(argv)
    keys = [k for k in args.only.split(",") if k]
    unknown = set(keys) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    calls = args.calls or (5 if args.quick else 15)
    cores = _cores()
    loads = [("idle", 0), ("one core busy", 1)] + ([("all cores busy", cores)]
                                                   if cores > 1 else [])
    results: dict = {}
    for load, busy in loads:
        for settings in ("1 thread", "default"):
            results[(load, settings)] = measure(settings, busy, keys, args.quick, calls)
            print(f"  {load}, {settings}: " + ", ".join(
                f"{k} {v * 1e3:.2f} ms" for k, v in results[(load, settings)].items()),
                file=sys.stderr)
    print(f"\n{cores} cores usable; medians of {calls} calls; each cell: default "
          "settings' time, and its ratio to one thread under the same load\n")
    header = ["workload"] + [f"{load}" for load, _ in loads] + ["idle scaling (target)",
                                                                "worst loaded ratio (<= 1.3x)"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for key in keys:
        title, large = WORKLOADS[key]
        cells, worst = [], 0.0
        for load, _ in loads:
            one, default = results[(load, "1 thread")][key], results[(load, "default")][key]
            cells.append(f"{default * 1e3:.2f} ms ({default / one:.2f}x)")
            if load != "idle":
                worst = max(worst, default / one)
        scaling = results[("idle", "1 thread")][key] / results[("idle", "default")][key]
        target = ">= 1.6x" if large and cores >= 2 else "-"
        met = "" if target == "-" else (" met" if scaling >= 1.6 else " not met")
        print(f"| {title} | " + " | ".join(cells) +
              f" | {scaling:.2f}x ({target}{met}) | {worst:.2f}x"
              f" ({'met' if worst <= 1.3 else 'not met'}) |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({f"{load}|{settings}": value for (load, settings), value
                       in results.items()}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
