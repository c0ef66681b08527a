"""Batch evaluation side by side: MLP inference over many rows, rows/s and peak memory.

Each configuration runs in a fresh process (so peak memory is its own): symgraph's
``f.predict`` at 1 and 2 threads, symgraph through Dask with 1 and 2 worker processes
(``symgraph.dask.map_blocks``; input generated lazily inside the workers), and, when
installed, tf_keras ``model.predict`` and a JAX ``jit`` loop over the same batches with
the same weights. Each process warms up on one batch, then times ``--repeat`` full
passes; the table shows the median rows/s, the ratio to symgraph at 1 thread and the
process's peak RSS. Then the time from ``symgraph run FILE`` starting to its first
batch done, in a new process, with an empty and with a warm kernel cache.

    python benchmarks/bench_batch_eval.py [--rows 1000000] [--batch-size 8192]
        [--widths 64,256,256,10] [--repeat 3]

The machine is shared and noisy: read ratios from one run, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _weights(widths):
    rng = np.random.default_rng(0)
    return [(rng.normal(0, (2 / a) ** 0.5, (a, b)).astype("float32"),
             rng.normal(0, 0.01, b).astype("float32")) for a, b in zip(widths, widths[1:])]


def _data(rows, width):
    return np.random.default_rng(1).standard_normal((rows, width), dtype=np.float32)


def _symgraph_function(widths):
    import symgraph.backend as K

    x = K.placeholder(shape=(None, widths[0]), name="x")
    h = x
    layers = _weights(widths)
    for k, (w, b) in enumerate(layers):
        h = K.dot(h, K.variable(w)) + K.variable(b)
        h = K.relu(h) if k < len(layers) - 1 else K.softmax(h)
    return K.function([x], [h])


def _timed(run, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def worker(engine: str, args) -> dict:
    """One configuration, in this process: returns seconds per pass."""
    widths, rows, bs = args.widths, args.rows, args.batch_size
    if engine.startswith("symgraph-dask"):
        return _dask_worker(int(engine.rsplit("-", 1)[1]), args)
    xs = _data(rows, widths[0])
    if engine.startswith("symgraph-threads"):
        threads = int(engine.rsplit("-", 1)[1])
        f = _symgraph_function(widths)
        f([xs[:bs]])
        f.wait_compiled()  # tiered execution: the kernels compile in the background
        run = lambda: f.predict(xs, batch_size=bs, threads=threads, progress=False)  # noqa: E731
    elif engine == "tf_keras":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tf_keras as keras

        model = keras.Sequential([keras.Input((widths[0],))] + [
            keras.layers.Dense(b, activation="relu" if k < len(widths) - 2 else "softmax")
            for k, b in enumerate(widths[1:])])
        model.set_weights([a for pair in _weights(widths) for a in pair])
        model.predict(xs[:bs], batch_size=bs, verbose=0)
        run = lambda: model.predict(xs, batch_size=bs, verbose=0)  # noqa: E731
    elif engine == "jax":
        import jax
        import jax.numpy as jnp

        layers = [(jnp.asarray(w), jnp.asarray(b)) for w, b in _weights(widths)]

        @jax.jit
        def forward(x):
            for k, (w, b) in enumerate(layers):
                x = x @ w + b
                x = jax.nn.relu(x) if k < len(layers) - 1 else jax.nn.softmax(x)
            return x

        forward(xs[:bs]).block_until_ready()
        forward(xs[rows - rows % bs:] if rows % bs else xs[:bs]).block_until_ready()

        def run():
            out = np.empty((rows, widths[-1]), np.float32)
            for lo in range(0, rows, bs):
                out[lo:lo + bs] = np.asarray(forward(xs[lo:lo + bs]))
            return out
    else:
        raise SystemExit(f"unknown engine {engine}")
    return {"times": _timed(run, args.repeat)}


def _dask_worker(workers: int, args) -> dict:
    import dask.array as da
    from distributed import Client, LocalCluster

    import symgraph.dask as sg_dask

    widths, rows, bs = args.widths, args.rows, args.batch_size
    f = _symgraph_function(widths)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        sg_dask.warmup(client, f)

        def run():
            x = da.random.default_rng(1).standard_normal((rows, widths[0]), chunks=(bs, -1),
                                                         dtype=np.float32)
            return sg_dask.map_blocks(f, x)[0].compute()

        run()  # the first pass also ships the graph file to every worker
        return {"times": _timed(run, args.repeat)}


def _first_batch(args, cache: str) -> float:
    """Seconds from ``symgraph run`` starting to its first (and only) batch done."""
    import symgraph  # after the workers ran (see find_spec above)

    folder = Path(tempfile.mkdtemp())
    symgraph.save(_symgraph_function(args.widths), folder / "m.sg")
    np.save(folder / "x.npy", _data(args.batch_size, args.widths[0]))
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=cache,
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "symgraph", "run", str(folder / "m.sg"), "--input",
                    str(folder / "x.npy"), "--batch-size", str(args.batch_size), "--out",
                    str(folder / "o.npy"), "--no-progress"], env=env, check=True,
                   capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--widths", default="64,256,256,10")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.widths = [int(w) for w in args.widths.split(",")]
    if args.worker:
        result = worker(args.worker, args)
        result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps(result))
        return
    # find_spec, not import: Linux keeps a process's peak RSS across fork + exec, so
    # what this process imports would show up in every worker's figure
    engines = ["symgraph-threads-1", "symgraph-threads-2"]
    if find_spec("dask") and find_spec("distributed"):
        engines += ["symgraph-dask-1", "symgraph-dask-2"]
    else:
        print("(dask not installed: pip install -e '.[dask]')")
    for name in ("tf_keras", "jax"):
        if find_spec(name):
            engines.append(name)
        else:
            print(f"({name} not installed: skipped)")
    print(f"MLP {'-'.join(map(str, args.widths))} float32, {args.rows:,} rows, batch "
          f"{args.batch_size}, {len(os.sched_getaffinity(0))} cores, median of "
          f"{args.repeat} passes\n")
    rows = []
    for engine in engines:
        cmd = [sys.executable, __file__, "--worker", engine, "--rows", str(args.rows),
               "--batch-size", str(args.batch_size), "--widths",
               ",".join(map(str, args.widths)), "--repeat", str(args.repeat)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{engine}: failed\n{proc.stderr[-2000:]}")
            continue
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        median = statistics.median(result["times"])
        rows.append((engine, args.rows / median, result["peak_rss"]))
    base = rows[0][1] if rows else 1.0
    print(f"{'engine':<22} {'rows/s':>12} {'vs threads=1':>13} {'peak RSS':>10}")
    for engine, rate, rss in rows:
        print(f"{engine:<22} {rate:>12,.0f} {rate / base:>12.2f}x {rss / 2**20:>8.0f} MiB")
    input_mib = args.rows * args.widths[0] * 4 / 2**20
    print(f"\n(the input alone is {input_mib:.0f} MiB, the output "
          f"{args.rows * args.widths[-1] * 4 / 2**20:.0f} MiB; dask rows generate the input "
          "inside the workers and report the client process's RSS)")
    cold = [_first_batch(args, tempfile.mkdtemp()) for _ in range(2)]
    warm_cache = tempfile.mkdtemp()
    _first_batch(args, warm_cache)
    warm = [_first_batch(args, warm_cache) for _ in range(3)]
    print(f"\n`symgraph run` start to first batch done (new process, {args.batch_size} rows): "
          f"empty kernel cache {statistics.median(cold):.2f} s, warm cache "
          f"{statistics.median(warm):.2f} s (medians)")


if __name__ == "__main__":
    main()
