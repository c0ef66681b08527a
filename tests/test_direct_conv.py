"""The SIMD direct convolution kernels (symgraph.kernels.direct_conv) and the conv ops'
routes through them: against the ops' independent NumPy references, over tile tails,
strides, dilations, paddings and ranks; parallel twins give the same bits."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph import config
from symgraph.core.services import reference_eval
from symgraph.kernels import direct_conv, parallelism
from symgraph.kernels.simd import LANES
from symgraph.ops import conv as conv_ops
from symgraph.ops import conv_grad
from symgraph.ops import pool as pool_ops

RNG = np.random.default_rng(7)

# (x shape, kernel size, out channels, strides, dilation, padding): out channels cover
# 1-4 vector blocks per tile and partial last vectors; widths cover tile tails
CASES = [
    ((2, 9, 11, 5), (3, 2), 10, (1, 1), (1, 2), "same"),
    ((3, 8, 8, 16), (3, 3), 16, (1, 1), (1, 1), "valid"),
    ((2, 7, 13, 4), (2, 3), 32, (2, 1), (1, 1), "same"),
    ((1, 6, 17, 9), (3, 3), 48, (1, 2), (2, 1), "valid"),
    ((2, 5, 21, 7), (1, 3), 64, (1, 1), (1, 1), "same"),
    ((2, 6, 6, 6), (3, 3), 80, (1, 1), (1, 1), "same"),
    ((2, 17, 7), (3,), 40, (1,), (2,), "causal"),
    ((3, 20, 9), (4,), 33, (2,), (1,), "same"),
    ((2, 31, 12), (5,), 128, (1,), (1,), "valid"),
]


def _random(shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _kernel_grad_reference(x, g, ksize, strides, dilation, padding):
    """sum over images and output positions of window(x) * g, per kernel offset."""
    rank = len(ksize)
    out, pads = conv_ops._plan(x.shape[1:-1], ksize, strides, dilation, padding)
    xp = conv_ops._pad(x.astype(np.float64), pads)
    dw = np.zeros((*ksize, x.shape[-1], g.shape[-1]))
    for offset in np.ndindex(*ksize):
        index = (slice(None),) + tuple(slice(a * d, a * d + (o - 1) * s + 1, s)
                                       for a, d, o, s in zip(offset, dilation, out, strides))
        window = xp[index]
        dw[offset] = np.tensordot(window, g.astype(np.float64),
                                  axes=(list(range(rank + 1)), list(range(rank + 1))))
    return dw


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-k{c[1]}-o{c[2]}-{c[5]}")
def test_correlate_matches_reference(case):
    shape, ksize, o, strides, dilation, padding = case
    x, w = _random(shape), _random((*ksize, shape[-1], o))
    out, pads = conv_ops._plan(shape[1:-1], ksize, strides, dilation, padding)
    got = direct_conv.correlate(conv_ops._pad(x, pads), w, out, strides, dilation)
    want = conv_ops.conv_reference(x.astype(np.float64), w.astype(np.float64), strides,
                                   padding, dilation)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * np.abs(want).max())


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-k{c[1]}-o{c[2]}-{c[5]}")
def test_kernel_gradient_matches_reference(case):
    shape, ksize, o, strides, dilation, padding = case
    x = _random(shape)
    out, pads = conv_ops._plan(shape[1:-1], ksize, strides, dilation, padding)
    g = _random((shape[0], *out, o))
    got = direct_conv.kernel_gradient(conv_ops._pad(x, pads), g, ksize, strides, dilation)
    want = _kernel_grad_reference(x, g, ksize, strides, dilation, padding)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * np.abs(want).max())


@pytest.mark.parametrize("case", [c for c in CASES if all(s == 1 for s in c[3])],
                         ids=lambda c: f"{c[0]}-k{c[1]}-o{c[2]}-{c[5]}")
def test_input_gradient_route_matches_col2im(case):
    shape, ksize, o, strides, dilation, padding = case
    w = _random((*ksize, shape[-1], o))
    out, _ = conv_ops._plan(shape[1:-1], ksize, strides, dilation, padding)
    g = _random((shape[0], *out, o))
    args = (g, w, shape[1:-1], strides, padding, dilation)
    got = conv_grad.conv_input_grad_channels_last(*args)
    want = conv_grad.conv_input_grad_channels_last(
        g.astype(np.float64), w.astype(np.float64), *args[2:])  # float64: col2im
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * np.abs(want).max())


def test_tile_for_pads_to_whole_tiles():
    assert direct_conv.tile_for(16) == (1, 16)
    assert direct_conv.tile_for(64) == (4, 64)
    assert direct_conv.tile_for(48) == (3, 48)
    assert direct_conv.tile_for(10) == (1, 16)
    assert direct_conv.tile_for(80) == (1, 80)  # 5 vectors: one block at a time
    for o in range(1, 200):
        blocks, padded = direct_conv.tile_for(o)
        assert padded >= o and padded % (LANES * blocks) == 0 and padded - o < LANES


def test_parallel_twins_give_the_same_bits(monkeypatch):
    x, w = _random((4, 12, 12, 8)), _random((3, 3, 8, 32))
    g = _random((4, 10, 10, 32))
    serial = (direct_conv.correlate(x, w, (10, 10), (1, 1), (1, 1)),
              direct_conv.kernel_gradient(x, g, (3, 3), (1, 1), (1, 1)))
    monkeypatch.setattr(parallelism, "PARALLEL_MIN", 1)
    monkeypatch.setattr(config, "num_threads", lambda: 2)
    monkeypatch.setattr(parallelism, "usable_cores", lambda: 2)
    parallel = (direct_conv.correlate(x, w, (10, 10), (1, 1), (1, 1)),
                direct_conv.kernel_gradient(x, g, (3, 3), (1, 1), (1, 1)))
    for a, b in zip(serial, parallel):
        assert np.array_equal(a, b)


def test_windows_outside_the_input_are_refused():
    x, w = _random((1, 5, 5, 4)), _random((3, 3, 4, 16))
    with pytest.raises(ValueError, match="fall outside"):
        direct_conv.correlate(x, w, (4, 4), (1, 1), (1, 1))
    with pytest.raises(ValueError, match="fall outside"):
        direct_conv.kernel_gradient(x, _random((1, 4, 3, 16)), (3, 3), (1, 1), (1, 1))


def test_empty_shapes():
    assert direct_conv.correlate(_random((0, 5, 5, 4)), _random((3, 3, 4, 16)), (3, 3),
                                 (1, 1), (1, 1)).shape == (0, 3, 3, 16)
    dw = direct_conv.kernel_gradient(_random((0, 5, 5, 4)), _random((0, 3, 3, 16)), (3, 3),
                                     (1, 1), (1, 1))
    assert dw.shape == (3, 3, 4, 16) and not dw.any()


def test_routes():
    assert conv_ops.direct_route("float32", 2, 16)
    assert not conv_ops.direct_route("float64", 2, 16)  # float64 keeps BLAS's precision
    assert not conv_ops.direct_route("float32", 3, 16)  # 3-D: im2col
    assert not conv_ops.direct_route("float32", 2, 4)   # too narrow for 16 lanes


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_conv_op_takes_the_direct_route_and_its_gradients(monkeypatch, fmt):
    calls = []
    for name in ("correlate", "kernel_gradient"):
        real = getattr(direct_conv, name)
        monkeypatch.setattr(direct_conv, name,
                            lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    monkeypatch.setattr(config, "_TIERED", [False])
    shape = (None, 9, 10, 6) if fmt == "channels_last" else (None, 6, 9, 10)
    x = K.placeholder(shape)
    w = K.variable(_random((3, 3, 6, 16)))
    y = K.conv2d(x, w, padding="same", data_format=fmt)
    loss = K.sum(y * y)
    gx, gw = K.gradients(loss, [x, w])
    f = K.function([x], [y, gx, gw])
    xv = _random((2, *shape[1:]))
    got = f([xv])
    assert {"correlate", "kernel_gradient"} <= set(calls)
    # the same graph's NumPy references (no direct kernels) agree
    ref = reference_eval([y, gx, gw], {x: xv})
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, rtol=3e-5, atol=3e-5 * np.abs(b).max())


def test_lanes_match_the_simd_module():
    from symgraph.kernels import simd

    assert direct_conv.LANES == simd.LANES


# -- SIMD max pooling (symgraph.kernels.pooling) ------------------------------------------
POOL_CASES = [
    ((2, 8, 8, 16), (2, 2), (2, 2), "valid"),
    ((3, 7, 9, 32), (3, 2), (2, 1), "same"),
    ((1, 5, 6, 48), (2, 3), (1, 2), "valid"),
    ((2, 11, 16), (3,), (2,), "same"),
]


@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: f"{c[0]}-k{c[1]}-s{c[2]}-{c[3]}")
def test_max_pool_matches_numpy_route(case):
    from symgraph.kernels import pooling

    shape, size, strides, padding = case
    x = _random(shape)
    x.flat[::7] = np.nan  # NaNs win their windows, as with np.maximum
    out, pads = conv_ops._plan(shape[1:-1], size, strides, (1,) * len(size), padding)
    got = pooling.max_pool(conv_ops._pad(x, pads, -np.inf), size, strides, out)
    want = pool_ops.pool_channels_last(x, size, strides, padding, "max", direct=False)
    np.testing.assert_array_equal(got, want)


def test_max_pool_refuses_what_it_cannot_read():
    from symgraph.kernels import pooling

    with pytest.raises(ValueError, match="multiple of 16"):
        pooling.max_pool(_random((1, 4, 4, 8)), (2, 2), (2, 2), (2, 2))
    with pytest.raises(ValueError, match="fall outside"):
        pooling.max_pool(_random((1, 4, 4, 16)), (2, 2), (2, 2), (3, 2))


def test_pool_op_takes_the_simd_route(monkeypatch):
    from symgraph.kernels import pooling

    calls = []
    real = pooling.max_pool
    monkeypatch.setattr(pooling, "max_pool", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(config, "_TIERED", [False])
    x = K.placeholder((None, 6, 6, 16))
    y = K.pool2d(x, (2, 2), strides=(2, 2), pool_mode="max")
    xv = _random((2, 6, 6, 16))
    got = K.function([x], [y])([xv])[0]
    assert calls
    np.testing.assert_array_equal(got, reference_eval([y], {x: xv})[0])


def test_launches_after_the_first_read_no_files_and_build_no_source(monkeypatch):
    """The kernels' sources (and the simd digest in them) are generated once: a
    training step launched five direct convolutions, each rebuilding its source and
    hashing simd.py from disk (~0.2 ms per launch)."""
    import builtins

    from symgraph.kernels import pooling, reductions

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 6, 16)).astype("float32")
    w = rng.normal(size=(3, 3, 16, 16)).astype("float32")
    g = rng.normal(size=(2, 4, 4, 16)).astype("float32")

    def run():
        direct_conv.correlate(x, w, (4, 4), (1, 1), (1, 1))
        direct_conv.kernel_gradient(x, g, (3, 3), (1, 1), (1, 1))
        pooling.max_pool(x, (2, 2), (2, 2), (3, 3))
        reductions.run_reduction("argmax", x, (3,), False, "int64")

    first = run()
    real_open = builtins.open

    def no_open(*args, **kwargs):
        raise AssertionError(f"a kernel launch opened {args[0]!r}")

    monkeypatch.setattr(builtins, "open", no_open)
    try:
        assert run() == first
    finally:
        monkeypatch.setattr(builtins, "open", real_open)


POOL_GRAD_CASES = [
    ((2, 8, 8, 16), (2, 2), (2, 2)),  # windows tile x exactly
    ((3, 9, 7, 32), (2, 3), (2, 3)),  # remainders no window covers
    ((2, 9, 9, 16), (2, 2), (3, 3)),  # gaps between windows
    ((2, 11, 48), (3,), (3,)),  # 1-D
    ((1, 4, 6, 16), (1, 1), (1, 1)),
]


@pytest.mark.parametrize("case", POOL_GRAD_CASES, ids=lambda c: f"{c[0]}-k{c[1]}-s{c[2]}")
def test_max_pool_grad_simd_gives_the_table_kernels_bits(case, monkeypatch):
    """The SIMD max-pool gradient against the per-window table loop: ties (first wins),
    NaN first in a window (kept) or later (never chosen), +inf, windows of -inf; the
    parallel twin gives the same bits."""
    from symgraph.kernels import pooling
    from symgraph.ops import pool_grad

    shape, size, strides = case
    rng = np.random.default_rng(len(shape) + shape[-1])
    x = rng.integers(0, 3, shape).astype("float32")
    x.flat[::11] = np.nan
    x.flat[::13] = np.inf
    x.flat[5::17] = -np.inf
    x[0, ..., :4] = -np.inf
    out, pads = conv_ops._plan(shape[1:-1], size, strides, (1,) * len(size), "valid")
    g = rng.normal(size=(shape[0], *out, shape[-1])).astype("float32")
    assert pooling.grad_usable(x.dtype, shape[-1], len(size), size, strides, pads)
    want = pool_grad._max_pool_call("max_pool_grad", x, g, size, strides, "valid")
    got = pooling.max_pool_grad(x, g, size, strides)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        pool_grad.max_pool_grad_channels_last(x, g, size, strides, "valid"), want)
    monkeypatch.setattr(parallelism, "PARALLEL_MIN", 1)
    monkeypatch.setattr(config, "num_threads", lambda: 2)
    monkeypatch.setattr(parallelism, "usable_cores", lambda: 2)
    np.testing.assert_array_equal(pooling.max_pool_grad(x, g, size, strides), want)


def test_max_pool_grad_simd_route_and_refusals():
    from symgraph.kernels import pooling

    assert not pooling.grad_usable("float32", 16, 2, (2, 2), (1, 1), ((0, 0), (0, 0)))
    assert not pooling.grad_usable("float32", 16, 2, (2, 2), (2, 2), ((0, 1), (0, 0)))
    assert not pooling.grad_usable("float64", 16, 2, (2, 2), (2, 2), ((0, 0), (0, 0)))
    assert not pooling.grad_usable("float32", 8, 2, (2, 2), (2, 2), ((0, 0), (0, 0)))
    with pytest.raises(ValueError, match="do not overlap"):
        pooling.max_pool_grad(_random((1, 4, 4, 16)), _random((1, 3, 3, 16)), (2, 2), (1, 1))
    with pytest.raises(ValueError, match="does not fit"):
        pooling.max_pool_grad(_random((1, 4, 4, 16)), _random((1, 3, 2, 16)), (2, 2), (2, 2))
