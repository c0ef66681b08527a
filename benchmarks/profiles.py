"""Where the time goes in the workloads whose issue-5 targets are not met.

    python benchmarks/profiles.py compile   # fresh-process compile latency, by phase
    python benchmarks/profiles.py gemm      # BLAS share of NumPy's MLP inference/training
    python benchmarks/profiles.py build     # graph building per op, with and without gc
    python benchmarks/profiles.py all

Everything runs on one thread (the suite's environment) and prints medians; the
numbers back the profiles in docs/performance-profiles.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from suite_engines import single_thread_env  # noqa: E402

for _key, _value in single_thread_env().items():
    os.environ.setdefault(_key, _value)

import numpy as np  # noqa: E402

_COMPILE_PHASES = r"""
import json, sys, time
sys.path.insert(0, {here!r})
import numpy as np
from suite_cases import apply_chain
x = np.random.default_rng(0).normal(size=(8, 64)).astype(np.float32)
import symgraph.backend as K
p = K.placeholder((None, 64))
y = K.sum(apply_chain("symgraph", p, 29), axis=1)
t0 = time.perf_counter()
f = K.function([p], [y])
t1 = time.perf_counter()
import numba
t2 = time.perf_counter()
from numba.core.registry import cpu_target
cpu_target.target_context.refresh()  # what numba does before its first compile or cache load
t3 = time.perf_counter()
out = f([x])[0]
t4 = time.perf_counter()
print(json.dumps({{"K.function (plan)": t1 - t0, "import numba": t2 - t1,
                   "numba CPU target init": t3 - t2, "kernels (compile or load) + call": t4 - t3,
                   "total": t4 - t0}}))
"""


def _child(code: str, env: dict) -> dict:
    env = dict(env, PYTHONPATH=os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, cwd=ROOT, timeout=600)
    if proc.returncode:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compile_phases(runs: int = 3) -> None:
    """The 30-op graph of the suite's compile row, timed by phase in new processes."""
    code = _COMPILE_PHASES.format(here=HERE)
    results = {"cold": [], "cached": []}
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="symgraph-prof-") as tmp:
            env = dict(os.environ, SYMGRAPH_CACHE_DIR=os.path.join(tmp, "sg"),
                       NUMBA_CACHE_DIR=os.path.join(tmp, "nb"))
            results["cold"].append(_child(code, env))
            results["cached"].append(_child(code, env))
    for kind, rows in results.items():
        what = "empty cache dirs" if kind == "cold" else "second process, same cache dirs"
        print(f"compile latency of the suite's 30-op graph, {what} "
              f"(median of {runs} fresh processes):")
        for phase in rows[0]:
            ms = statistics.median(r[phase] for r in rows) * 1e3
            print(f"  {phase:36s} {ms:8.1f} ms")


def _median_ms(fn, rounds: int = 9) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def gemm_share() -> None:
    """How much of NumPy's own MLP time is the BLAS matmuls that both engines call."""
    from suite_cases import _mlp_params, _np_softmax

    params = _mlp_params((784, 512, 512, 10))
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(256, 784)).astype(np.float32) for _ in range(20)]

    def forward():
        for x in xs:
            a = x
            for i in range(0, len(params) - 2, 2):
                a = np.maximum(a @ params[i] + params[i + 1], 0)
            _np_softmax(a @ params[-2] + params[-1])

    def forward_gemms():
        for x in xs:
            a = x
            for i in range(0, len(params) - 2, 2):
                a = a @ params[i]
            a @ params[-2]

    total, gemms = _median_ms(forward), _median_ms(forward_gemms)
    print(f"MLP 784-512-512-10 inference, 20 batches of 256 (NumPy): {total:.1f} ms, "
          f"of which the 3 matmuls {gemms:.1f} ms ({gemms / total:.0%})")
    xs = [x[:128] for x in xs]
    ys = [np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)] for _ in xs]

    def step_gemms():
        for x, y in zip(xs, ys):
            acts, a = [x], x
            for i in range(0, len(params) - 2, 2):
                a = a @ params[i]
                acts.append(a)
            d = a @ params[-2] - y
            for i in range(len(params) - 2, -1, -2):
                acts[i // 2].T @ d
                if i:
                    d = d @ params[i].T

    def step():
        for x, y in zip(xs, ys):
            acts, a = [x], x
            for i in range(0, len(params) - 2, 2):
                a = np.maximum(a @ params[i] + params[i + 1], 0)
                acts.append(a)
            p = _np_softmax(a @ params[-2] + params[-1])
            d = (p - y) / np.float32(len(x))
            for i in range(len(params) - 2, -1, -2):
                gw, gb = acts[i // 2].T @ d, d.sum(axis=0)
                if i:
                    d = (d @ params[i].T) * (acts[i // 2] > 0)
                gw * 0.01, gb * 0.01

    total, gemms = _median_ms(step), _median_ms(step_gemms)
    print(f"MLP training step, 20 steps of 128 (NumPy, no weight writes): {total:.1f} ms, "
          f"of which the 8 matmuls {gemms:.1f} ms ({gemms / total:.0%})")


def build_cost(n_ops: int = 10_000) -> None:
    """Per-op cost of building the suite's chain, with the garbage collector on and off."""
    from suite_cases import apply_chain

    import symgraph.backend as K

    def build():
        K.clear_session()
        apply_chain("symgraph", K.placeholder((None,)), n_ops)

    build()
    with_gc = _median_ms(build)
    gc.disable()
    try:
        without = _median_ms(build)
    finally:
        gc.enable()
    print(f"building a {n_ops:,}-op chain: {with_gc:.1f} ms ({with_gc * 1e3 / n_ops:.1f} us/op) "
          f"with gc, {without:.1f} ms ({without * 1e3 / n_ops:.1f} us/op) without")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["compile", "gemm", "build", "all"])
    args = parser.parse_args()
    if args.what in ("compile", "all"):
        compile_phases()
    if args.what in ("gemm", "all"):
        gemm_share()
    if args.what in ("build", "all"):
        build_cost()


if __name__ == "__main__":
    main()
