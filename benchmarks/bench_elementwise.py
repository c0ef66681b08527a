"""The 8-op elementwise chain ``relu(x*0.5+0.1)*sigmoid(x) + tanh(x)**2`` on float32:
symgraph (one fused, vectorized kernel using ``kernels.vmath``) vs NumPy eager, with
a copy of the same bytes (``a.copy()``: allocate + read + write) as the floor.

Rounds are interleaved (NumPy, symgraph, copy, NumPy, ...); medians and the ratios to
NumPy of the same run are printed. Run on one thread:

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_elementwise.py
    [--n 10000000] [--rounds 21] [--dtype float32]

Also reported: the kernel alone writing into a preallocated output (what the math
costs without the page faults of a fresh 40 MB result), and whether the compiled loop
holds SIMD instructions (``<16 x float>`` / ``<8 x float>`` in its LLVM IR).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import symgraph.backend as K  # noqa: E402
from symgraph.kernels import cache as kernel_cache  # noqa: E402
from symgraph.runtime.tiered import wait_all  # noqa: E402


def build(n: int, dtype: str):
    x = K.placeholder(shape=(None,), dtype=dtype)
    y = K.relu(x * 0.5 + 0.1) * K.sigmoid(x) + K.tanh(x) ** 2
    f = K.function([x], [y])
    data = np.random.default_rng(0).standard_normal(n).astype(dtype)
    half, tenth = np.asarray(0.5, dtype), np.asarray(0.1, dtype)

    def numpy_version():
        return (np.maximum(data * half + tenth, 0) * (1 / (1 + np.exp(-data)))
                + np.tanh(data) ** 2)

    return f, data, numpy_version


def kernel_module(before: set):
    """The fused kernel's module (the one with a ``flat`` loop loaded by ``build``)."""
    found = [m for key, m in kernel_cache._memory.items()
             if key not in before and hasattr(m, "flat")]
    return found[-1] if found else None


def simd_widths(module) -> list[str]:
    ir = "\n".join(module.flat.inspect_llvm().values())
    return sorted(set(re.findall(r"<(\d+) x float>", ir)), key=int)


def interleaved(funcs: dict, rounds: int) -> dict:
    for f in funcs.values():
        f()  # warm up: compile, load from cache, first page faults
    wait_all()  # tiered execution: the kernels compile in the background
    times = {name: [] for name in funcs}
    for _ in range(rounds):
        for name, f in funcs.items():
            start = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args(argv)

    before = set(kernel_cache._memory)
    f, data, numpy_version = build(args.n, args.dtype)
    got = f([data])[0]
    with np.errstate(all="ignore"):
        want = numpy_version()
    err = float(np.max(np.abs(got.astype(np.float64) - want) / (np.abs(want) + 1e-30)))
    module = kernel_module(before)
    out = np.empty_like(data)
    scalars = (np.float32(0.5), np.float32(0.1), np.float32(0.0), np.float32(2.0))
    funcs = {
        "numpy": numpy_version,
        "symgraph": lambda: f([data]),
        "copy (floor)": data.copy,
    }
    if module is not None and args.dtype == "float32":
        funcs["kernel, out preallocated"] = lambda: module.flat(out, data, *scalars)
    medians = interleaved(funcs, args.rounds)
    base = medians["numpy"]
    print(f"elementwise chain relu(x*0.5+0.1)*sigmoid(x) + tanh(x)**2, n={args.n}, "
          f"{args.dtype}, NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS')}, "
          f"{args.rounds} interleaved rounds")
    for name, t in medians.items():
        print(f"  {name:26s} {t * 1e3:9.2f} ms   {t / base:6.3f}x numpy")
    if module is not None:
        print(f"  SIMD widths in the fused loop's IR: <N x float> for N in {simd_widths(module)}")
    print(f"  max relative difference symgraph vs numpy: {err:.2e}")
    return medians


if __name__ == "__main__":
    main()
