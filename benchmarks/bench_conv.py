"""Which route should symgraph's convolution take? Measure, then choose.

Candidates, on the layers of a small CNN (channels_last, 'same' padding, stride 1):

* ``numpy_ref``: plain NumPy, one ``tensordot`` per kernel offset accumulated into the
  output (the op's reference implementation, ``symgraph.ops.conv``).
* ``im2col_rows``: gather patches once (``sliding_window_view`` + one copy), then one
  BLAS matmul ``(N*OH*OW, KH*KW*C) @ (KH*KW*C, OUT)``.
* ``im2col_taps``: the transposed, tap-major matrix ``(KH*KW*C, N*OH*OW)``, one strided
  slice copy per kernel offset and channel, and the matmul of its transpose (BLAS reads
  it transposed, no copy). symgraph uses this one up to
  ``TAP_MAJOR_MAX_CHANNELS`` input channels and ``im2col_rows`` above.
* ``numba_direct``: direct 7-deep loops compiled with numba (serial, innermost loop over
  the contiguous output channels).
* ``numba_prange``: the same loops with ``parallel=True`` over the batch.
* ``symgraph``: the whole ``K.function`` call (feed checks, kernel, output checks).

Run: ``PYTHONPATH=. python benchmarks/bench_conv.py [--repeats 30]``. Prints the median
time of each route and its ratio to ``numpy_ref`` (< 1 is faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from numba import njit, prange  # noqa: E402

import symgraph.backend as K  # noqa: E402
from symgraph.backend._conv import conv2d  # noqa: E402
from symgraph.ops import conv as conv_ops  # noqa: E402
from symgraph.runtime.tiered import wait_all  # noqa: E402


def _direct_loops(xp, w, out, dh, dw):
    n_, oh_, ow_, co = out.shape
    kh_, kw_, ci, _ = w.shape
    for n in range(n_):
        for i in range(oh_):
            for j in range(ow_):
                for a in range(kh_):
                    for b in range(kw_):
                        for c in range(ci):
                            v = xp[n, i + a * dh, j + b * dw, c]
                            for o in range(co):
                                out[n, i, j, o] += v * w[a, b, c, o]


numba_direct = njit(cache=False, nogil=True, error_model="numpy")(_direct_loops)


@njit(cache=False, nogil=True, error_model="numpy", parallel=True)
def numba_prange(xp, w, out, dh, dw):
    n_, oh_, ow_, co = out.shape
    kh_, kw_, ci, _ = w.shape
    for n in prange(n_):
        for i in range(oh_):
            for j in range(ow_):
                for a in range(kh_):
                    for b in range(kw_):
                        for c in range(ci):
                            v = xp[n, i + a * dh, j + b * dw, c]
                            for o in range(co):
                                out[n, i, j, o] += v * w[a, b, c, o]


def _same_pad(x, kh, kw):
    th, tw = kh - 1, kw - 1
    return np.pad(x, ((0, 0), (th // 2, th - th // 2), (tw // 2, tw - tw // 2), (0, 0)))


def route_numba(fn, x, w):
    xp = _same_pad(x, w.shape[0], w.shape[1])
    out = np.zeros(x.shape[:3] + (w.shape[3],), dtype=x.dtype)
    fn(xp, w, out, 1, 1)
    return out


def route_numpy_ref(x, w):
    return conv_ops.conv_reference(x, w, strides=(1, 1), padding="same", dilation=(1, 1))


def route_im2col(x, w, tap_major: bool):
    """symgraph's im2col kernel with the column layout forced."""
    saved = conv_ops.TAP_MAJOR_MAX_CHANNELS
    conv_ops.TAP_MAJOR_MAX_CHANNELS = x.shape[-1] if tap_major else 0
    try:
        return conv_ops.conv_channels_last(x, w, strides=(1, 1), padding="same",
                                           dilation=(1, 1))
    finally:
        conv_ops.TAP_MAJOR_MAX_CHANNELS = saved


def median_times(routes, repeats):
    """Median seconds per route. Routes run interleaved (one call of each per round) so
    that load from other processes hits them alike and the ratios stay fair."""
    for fn in routes.values():
        fn()  # warm-up (numba compile, caches)
    wait_all()  # tiered execution: the kernels compile in the background
    times = {name: [] for name in routes}
    for _ in range(repeats):
        for name, fn in routes.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def bench_layer(label, x, w, repeats):
    xt = K.placeholder(shape=(None,) + x.shape[1:], dtype=str(x.dtype))
    kt = K.constant(w, dtype=str(w.dtype))
    f = K.function([xt], [conv2d(xt, kt, padding="same")])
    routes = {
        "numpy_ref": lambda: route_numpy_ref(x, w),
        "im2col_rows": lambda: route_im2col(x, w, False),
        "im2col_taps": lambda: route_im2col(x, w, True),
        "numba_direct": lambda: route_numba(numba_direct, x, w),
        "numba_prange": lambda: route_numba(numba_prange, x, w),
        "symgraph": lambda: f([x])[0],
    }
    expected = route_numpy_ref(x, w)
    tol = 1e-4 if x.dtype == np.float32 else 1e-10
    for name, fn in routes.items():
        np.testing.assert_allclose(fn(), expected, rtol=tol, atol=tol, err_msg=name)
    medians = median_times(routes, repeats)
    base = medians["numpy_ref"]
    print(f"\n{label}  x{x.shape} {x.dtype} kernel{w.shape}")
    for name, t in medians.items():
        print(f"  {name:13s} {t * 1e3:9.3f} ms   ratio {t / base:6.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"numba threads: {__import__('numba').config.NUMBA_NUM_THREADS}, "
          f"cpus: {os.cpu_count()}, numpy {np.__version__}")
    for dtype in ("float32", "float64"):
        x1 = rng.normal(size=(64, 28, 28, 1)).astype(dtype)
        w1 = rng.normal(size=(3, 3, 1, 32)).astype(dtype)
        bench_layer("layer 1: 28x28x1 -> 32", x1, w1, args.repeats)
        x2 = rng.normal(size=(64, 14, 14, 32)).astype(dtype)
        w2 = rng.normal(size=(3, 3, 32, 64)).astype(dtype)
        bench_layer("layer 2: 14x14x32 -> 64", x2, w2, args.repeats)


if __name__ == "__main__":
    main()
