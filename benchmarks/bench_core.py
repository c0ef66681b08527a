"""symgraph vs NumPy eager on the same work, interleaved in one process.

Prints medians and the ratio symgraph / NumPy (below 1: symgraph is faster). The
machine is shared and noisy: read ratios, not absolute times.

    python benchmarks/bench_core.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import symgraph.backend as K
from symgraph.runtime.tiered import wait_all


def _median_pair(fa, fb, repeat):
    fa(), fb()  # warm up (compiles)
    wait_all()  # tiered execution: the kernels compile in the background
    ta, tb = [], []
    for _ in range(repeat):
        for f, acc in ((fa, ta), (fb, tb)):
            start = time.perf_counter()
            f()
            acc.append(time.perf_counter() - start)
    return statistics.median(ta), statistics.median(tb)


def elementwise_chain(n):
    x = K.placeholder((None,))
    y = K.relu(x * 0.5 + 0.1) * K.sigmoid(x) + K.square(K.tanh(x))
    f = K.function([x], [y])
    data = np.random.default_rng(0).normal(size=n).astype(np.float32)

    def numpy_version():
        return np.maximum(data * 0.5 + 0.1, 0) * (1 / (1 + np.exp(-data))) + np.tanh(data) ** 2

    return lambda: f([data]), numpy_version


def mlp_forward(batch):
    rng = np.random.default_rng(0)
    ws = [rng.normal(0, 0.05, s).astype(np.float32) for s in ((784, 512), (512, 512), (512, 10))]
    bs = [np.zeros(s.shape[1], np.float32) for s in ws]
    x = K.placeholder((None, 784))
    h = x
    for i, (w, b) in enumerate(zip(ws, bs)):
        h = K.dot(h, K.variable(w)) + K.variable(b)
        h = K.relu(h) if i < 2 else K.softmax(h)
    f = K.function([x], [h])
    data = rng.normal(size=(batch, 784)).astype(np.float32)

    def numpy_version():
        a = data
        for i, (w, b) in enumerate(zip(ws, bs)):
            a = a @ w + b
            if i < 2:
                a = np.maximum(a, 0)
        e = np.exp(a - a.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    return lambda: f([data]), numpy_version


def softmax_rows(n):
    x = K.placeholder((None, n))
    f = K.function([x], [K.softmax(x)])
    data = np.random.default_rng(0).normal(size=(n, n)).astype(np.float32)

    def numpy_version():
        e = np.exp(data - data.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    return lambda: f([data]), numpy_version


def sum_axis(n, axis):
    x = K.placeholder((None, n))
    f = K.function([x], [K.sum(x, axis=axis)])
    data = np.random.default_rng(0).normal(size=(n, n)).astype(np.float32)
    return lambda: f([data]), lambda: data.sum(axis=axis)


def zeros_like_expensive(n):
    v = K.variable(np.random.default_rng(0).normal(size=(n, n)))
    f = K.function([], [K.zeros_like(K.exp(K.dot(v, v)))])
    data = K.get_value(v)
    return lambda: f([]), lambda: np.zeros_like(np.exp(data @ data))


CASES = [
    ("elementwise chain, 1M float32", lambda: elementwise_chain(1_000_000)),
    ("MLP 784-512-512-10 forward, batch 256", lambda: mlp_forward(256)),
    ("softmax rows, 1024x1024", lambda: softmax_rows(1024)),
    ("sum axis 0, 1024x1024", lambda: sum_axis(1024, 0)),
    ("sum axis 1, 1024x1024", lambda: sum_axis(1024, 1)),
    ("zeros_like(exp(dot(v, v))), 1000x1000", lambda: zeros_like_expensive(1000)),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    print(f"{'case':42s} {'symgraph ms':>12s} {'numpy ms':>10s} {'ratio':>8s}")
    for name, make in CASES:
        K.clear_session()
        ours, theirs = make()
        a, b = _median_pair(ours, theirs, args.repeat)
        print(f"{name:42s} {a * 1e3:12.3f} {b * 1e3:10.3f} {a / b:8.3f}")


if __name__ == "__main__":
    main()
