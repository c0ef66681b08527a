"""Batched prediction in one process: ``f.predict`` over many rows on a thread pool.

Builds a 784-512-512-10 relu/softmax MLP with ``K.placeholder`` / ``K.variable``,
predicts ``--rows`` rows (200k by default) with a progress bar at 1 and 2 threads,
checks that both are bit-identical to a serial loop of ordinary calls, and prints
rows/s.

    python examples/batch_predict.py [--rows 200000] [--batch-size 1024]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import symgraph.backend as K
from symgraph.runtime.threads import available_cores, blas_threads


def build_mlp(rng: np.random.Generator):
    """The model and its compiled prediction function (one input, one output)."""
    x = K.placeholder(shape=(None, 784), name="pixels")
    sizes = [784, 512, 512, 10]
    h = x
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = K.variable(rng.normal(0, (2 / n_in) ** 0.5, (n_in, n_out)), name=f"w{i}")
        b = K.variable(np.zeros(n_out), name=f"b{i}")
        z = K.dot(h, w) + b
        h = K.relu(z) if i < len(sizes) - 2 else K.softmax(z)
    return K.function([x], h)  # one output tensor: predict returns one array


def main(rows: int = 200_000, batch_size: int = 1024) -> None:
    rng = np.random.default_rng(0)
    f = build_mlp(rng)
    xs = rng.random((rows, 784), dtype=np.float32)
    f.predict(xs[:batch_size], batch_size=batch_size, progress=False)  # compile, warm up

    # the reference: ordinary calls one after another; predict keeps BLAS at one
    # thread per call (OpenBLAS's sums depend on its thread count), so does this loop
    with blas_threads(1):
        serial = np.concatenate([f(xs[lo:lo + batch_size]) for lo in range(0, rows, batch_size)])

    print(f"{rows:,} rows of 784 features, batches of {batch_size}, "
          f"{available_cores()} cores available")
    for threads in (1, 2):
        start = time.perf_counter()
        probs = f.predict(xs, batch_size=batch_size, threads=threads, progress=True)
        seconds = time.perf_counter() - start
        same = probs.shape == serial.shape and bool(np.array_equal(probs, serial))
        print(f"threads={threads}: {rows / seconds:,.0f} rows/s, "
              f"identical to the serial loop: {same}")
        if not same:
            raise SystemExit("batched results differ from the serial loop")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows to predict")
    parser.add_argument("--batch-size", type=int, default=1024, help="rows per call")
    args = parser.parse_args()
    main(args.rows, args.batch_size)
