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
* ``simd_direct``: symgraph's register-tiled SIMD kernel (``symgraph.kernels.direct_conv``,
  float32 only; float64 takes im2col), the route float32 convolutions take now.
* ``numba_prange``: the same loops with ``parallel=True`` over the batch.
* ``symgraph``: the whole ``K.function`` call (feed checks, kernel, output checks).

Then, on the layers of ``benchmarks/bench_keras_models.py``'s models, the forward pass,
kernel gradient and input gradient by the direct SIMD kernels against im2col/col2im
(``--layers-only`` runs just this part).

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
                                           dilation=(1, 1), direct=False)
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
        "simd_direct": lambda: conv_ops.conv_channels_last(x, w, (1, 1), "same", (1, 1)),
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


#: (x shape, kernel size, out channels, padding) of the Keras benchmark models' layers
MODEL_LAYERS = [((64, 32, 32, 16), (3, 3), 16, "same"), ((64, 26, 26, 32), (3, 3), 64, "valid"),
                ((64, 100, 64), (5,), 128, "valid"), ((64, 28, 28, 1), (3, 3), 32, "valid"),
                ((64, 28, 28, 3), (3, 3), 32, "valid")]


def _layer_times(shape, ksize, o, padding, repeats, rng) -> str:
    from symgraph.ops import conv_grad

    ones = (1,) * len(ksize)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((*ksize, shape[-1], o)).astype(np.float32)
    out, _ = conv_ops._plan(shape[1:-1], ksize, ones, ones, padding)
    g = rng.standard_normal((shape[0], *out, o)).astype(np.float32)
    calls = {
        "forward": lambda: conv_ops.conv_channels_last(x, w, ones, padding, ones),
        "kernel grad": lambda: conv_grad.conv_kernel_grad_channels_last(
            x, g, ksize, ones, padding, ones),
        "input grad": lambda: conv_grad.conv_input_grad_channels_last(
            g, w, shape[1:-1], ones, padding, ones),
    }
    saved = conv_ops.DIRECT_MIN_CHANNELS
    times = {(name, d): [] for name in calls for d in (True, False)}
    try:
        for d in (True, False):
            conv_ops.DIRECT_MIN_CHANNELS = saved if d else 1 << 30
            for fn in calls.values():
                fn()  # compile, warm caches
        for _ in range(repeats):
            for d in (True, False):
                conv_ops.DIRECT_MIN_CHANNELS = saved if d else 1 << 30
                for name, fn in calls.items():
                    t0 = time.perf_counter()
                    fn()
                    times[name, d].append(time.perf_counter() - t0)
    finally:
        conv_ops.DIRECT_MIN_CHANNELS = saved
    flops = 2 * g.size * int(np.prod(ksize)) * shape[-1]
    cells = []
    for name in calls:
        a, b = (statistics.median(times[name, d]) for d in (True, False))
        cells.append(f"{name} {a * 1e3:.2f} vs {b * 1e3:.2f} "
                     f"({flops / a / 1e9:.0f} / {flops / b / 1e9:.0f})")
    return f"  {shape} k{ksize} -> {o}: " + "; ".join(cells)


def bench_model_layers(repeats: int) -> None:
    """Direct SIMD kernels against im2col/col2im, forward and both gradients, one
    process, interleaved rounds; the direct route switched off by raising
    ``DIRECT_MIN_CHANNELS`` (the gradients ask ``ops.conv.direct_route`` too). The
    input gradient's rule may keep col2im for both (see ``ops.conv_grad``)."""
    rng = np.random.default_rng(0)
    print("\nmodel layers, float32 (ms, direct vs im2col/col2im; GFLOP/s):")
    for shape, ksize, o, padding in MODEL_LAYERS:
        print(_layer_times(shape, ksize, o, padding, repeats, rng), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--layers-only", action="store_true",
                        help="only the direct-vs-im2col table of the models' layers")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"numba threads: {__import__('numba').config.NUMBA_NUM_THREADS}, "
          f"cpus: {os.cpu_count()}, numpy {np.__version__}")
    if args.layers_only:
        bench_model_layers(args.repeats)
        return
    for dtype in ("float32", "float64"):
        x1 = rng.normal(size=(64, 28, 28, 1)).astype(dtype)
        w1 = rng.normal(size=(3, 3, 1, 32)).astype(dtype)
        bench_layer("layer 1: 28x28x1 -> 32", x1, w1, args.repeats)
        x2 = rng.normal(size=(64, 14, 14, 32)).astype(dtype)
        w2 = rng.normal(size=(3, 3, 32, 64)).astype(dtype)
        bench_layer("layer 2: 14x14x32 -> 64", x2, w2, args.repeats)
    bench_model_layers(max(5, args.repeats // 3))


if __name__ == "__main__":
    main()
