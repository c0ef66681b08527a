"""A 784-512-512-10 MLP over millions of lazily generated rows, on a Dask cluster.

The rows are generated on the workers (``dask.array.random``, seeded, float32,
chunked along axis 0), pushed chunk by chunk through the compiled model
(``f.to_dask``: one task per chunk, the function shipped as its graph file), and
reduced to the 10 class counts (``bincount`` of the argmax), so memory stays a few
chunks per worker: 10M x 784 floats never exist at once. Runs on a ``LocalCluster``
of 1, then 2 worker processes (one thread each), after a warmup, and prints the
rows/s of each (the median of ``--repeat`` runs; generating the rows is included).

    python examples/dask_mlp.py --rows 10000000 --workers 1,2 --repeat 3
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import numpy as np

import symgraph.backend as K
import symgraph.dask

FEATURES, HIDDEN, CLASSES = 784, 512, 10


def build_model(seed: int = 0):
    """The compiled MLP: float32 rows of 784 features -> the argmax class of each row.

    Returns:
        A one-output compiled function (``K.function`` of one tensor).
    """
    rng = np.random.default_rng(seed)
    x = K.placeholder(shape=(None, FEATURES), dtype="float32", name="pixels")
    h = x
    for i, (n_in, n_out) in enumerate([(FEATURES, HIDDEN), (HIDDEN, HIDDEN)]):
        w = K.variable(rng.normal(0, np.sqrt(2 / n_in), (n_in, n_out)), dtype="float32",
                       name=f"w{i}")
        b = K.variable(np.full(n_out, -0.5 if i == 0 else 0.0), dtype="float32", name=f"b{i}")
        h = K.relu(K.dot(h, w) + b)
    w = K.variable(rng.normal(0, np.sqrt(1 / HIDDEN), (HIDDEN, CLASSES)), dtype="float32",
                   name="w_out")
    probs = K.softmax(K.dot(h, w))
    return K.function([x], K.argmax(probs, axis=-1), name="mlp_classes")


def class_counts(f, rows: int, chunk: int, seed: int):
    """The lazy class counts of ``rows`` random rows (a dask array of 10 ints)."""
    import dask.array as da

    pixels = da.random.default_rng(seed).random((rows, FEATURES), dtype=np.float32,
                                                chunks=(chunk, FEATURES))
    return da.bincount(f.to_dask(pixels), minlength=CLASSES)


def time_cluster(f, workers: int, rows: int, chunk: int, seed: int,
                 repeat: int) -> tuple[float, list[float], np.ndarray]:
    """Run the pipeline on a fresh cluster of ``workers`` processes.

    Returns:
        ``(rows per second of the median run, warmup seconds per worker, counts)``.
    """
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        warm = symgraph.dask.warmup(client, f, batch_rows=min(chunk, rows))
        seconds, counts = [], None
        for _ in range(repeat):
            start = time.perf_counter()
            counts = client.compute(class_counts(f, rows, chunk, seed)).result()
            seconds.append(time.perf_counter() - start)
    return rows / statistics.median(seconds), sorted(warm.values()), counts


def main(argv: list[str] | None = None) -> dict[int, float]:
    """Parse the arguments, run every cluster size, print rows/s; return them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--chunk", type=int, default=16_384, help="rows per task")
    parser.add_argument("--workers", default="1,2", help="cluster sizes, e.g. 1,2")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (median)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = [int(w) for w in args.workers.split(",")]
    f = build_model(args.seed)
    print(f"MLP {FEATURES}-{HIDDEN}-{HIDDEN}-{CLASSES} float32, {args.rows:,} rows in "
          f"chunks of {args.chunk:,}, median of {args.repeat} run(s)")
    rates, reference = {}, None
    for workers in sizes:
        rate, warm, counts = time_cluster(f, workers, args.rows, args.chunk, args.seed,
                                          args.repeat)
        if int(counts.sum()) != args.rows:
            raise SystemExit(f"counted {int(counts.sum())} rows, expected {args.rows}")
        if reference is not None and not np.array_equal(counts, reference):
            raise SystemExit(f"{workers} workers counted {counts}, not {reference}")
        reference, rates[workers] = counts, rate
        print(f"workers={workers} rows/s={rate:,.0f} warmup_s={max(warm):.2f}")
    print("class counts:", reference.tolist())
    return rates


if __name__ == "__main__":
    main()
