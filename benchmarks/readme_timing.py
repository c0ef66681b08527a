"""Time the README example: the first and a second ``K.eval`` in this process, and
(with ``--mlp``) the first and second call of a small compiled MLP forward.

Run it twice with the same ``SYMGRAPH_CACHE_DIR`` to see a new process loading
kernels from the disk cache instead of compiling them:

    SYMGRAPH_CACHE_DIR=$(mktemp -d) sh -c \
        'python benchmarks/readme_timing.py --mlp; python benchmarks/readme_timing.py --mlp'
"""

from __future__ import annotations

import sys
import time

t0 = time.perf_counter()
import numpy as np  # noqa: E402

import symgraph.backend as K  # noqa: E402

t_import = time.perf_counter() - t0


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - start) * 1e3


def main() -> None:
    kvar = K.variable(np.random.random((2, 3)))
    kvar_zeros = K.zeros_like(kvar)
    _, first = timed(lambda: K.eval(kvar_zeros))
    _, second = timed(lambda: K.eval(kvar_zeros))
    print(f"import symgraph.backend: {t_import * 1e3:.1f} ms")
    print(f"README K.eval: first {first:.2f} ms, second {second:.3f} ms")
    if "--mlp" in sys.argv:
        rng = np.random.default_rng(0)
        x = K.placeholder((None, 784))
        w1, b1 = K.variable(rng.normal(size=(784, 128))), K.variable(np.zeros(128))
        w2, b2 = K.variable(rng.normal(size=(128, 10))), K.variable(np.zeros(10))
        probs = K.softmax(K.dot(K.relu(K.dot(x, w1) + b1), w2) + b2)
        batch = rng.normal(size=(32, 784)).astype(np.float32)
        f, build = timed(lambda: K.function([x], [probs]))
        _, call1 = timed(lambda: f([batch]))
        _, call2 = timed(lambda: f([batch]))
        print(f"MLP forward: {f.n_kernels} kernels; K.function {build:.1f} ms, "
              f"first call {call1:.1f} ms, second call {call2:.3f} ms")


if __name__ == "__main__":
    main()
