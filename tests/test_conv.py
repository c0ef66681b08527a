"""Convolution and pooling vs loop-based NumPy references written here (no padding
arrays, no im2col: every output position sums its kernel taps, skipping taps that fall
outside the input). Each case also runs through the registry's reference interpreter."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import symgraph.backend as K
from symgraph import config
from symgraph.backend._conv import (
    conv1d,
    conv2d,
    conv2d_transpose,
    conv3d,
    conv3d_transpose,
    depthwise_conv2d,
    local_conv1d,
    local_conv2d,
    pool2d,
    pool3d,
    separable_conv1d,
    separable_conv2d,
)
from symgraph.errors import DTypeError, GraphError, ShapeError
from symgraph.ops.registry import REGISTRY
from tests.helpers import assert_close, random_array, run_both

RNG = np.random.default_rng(1234)


# -- references ----------------------------------------------------------------------------
def geometry(n, k, s, d, padding):
    """(output size, padding before) by TF's rules."""
    eff = (k - 1) * d + 1
    if padding == "valid":
        return (n - eff) // s + 1, 0
    out = math.ceil(n / s)
    if padding == "causal":
        return out, eff - 1
    return out, max((out - 1) * s + eff - n, 0) // 2


def to_last(x, fmt):
    return x if fmt == "channels_last" else np.moveaxis(x, 1, -1)


def from_last(x, fmt):
    return x if fmt == "channels_last" else np.moveaxis(x, -1, 1)


def taps(pos, offset, strides, dilation, befores, sizes):
    """Input index of a kernel tap for output position ``pos``, or None if it is padding."""
    idx = tuple(p * s + a * d - b for p, a, s, d, b in
                zip(pos, offset, strides, dilation, befores))
    return idx if all(0 <= i < n for i, n in zip(idx, sizes)) else None


def ref_conv(x, w, strides, padding, dilation, fmt):
    x = to_last(x.astype(np.float64), fmt)
    rank = x.ndim - 2
    sizes = x.shape[1:-1]
    geo = [geometry(n, k, s, d, padding) for n, k, s, d in
           zip(sizes, w.shape[:rank], strides, dilation)]
    out = np.zeros((x.shape[0], *(g[0] for g in geo), w.shape[-1]))
    for pos in np.ndindex(*out.shape[1:-1]):
        for offset in np.ndindex(*w.shape[:rank]):
            idx = taps(pos, offset, strides, dilation, [g[1] for g in geo], sizes)
            if idx is not None:
                out[(slice(None), *pos)] += x[(slice(None), *idx)] @ w[offset]
    return from_last(out, fmt)


def ref_depthwise(x, w, strides, padding, dilation, fmt):
    x = to_last(x, fmt)
    parts = [ref_conv(x[..., c:c + 1], w[..., c, :][..., None, :], strides, padding,
                      dilation, "channels_last") for c in range(x.shape[-1])]
    out = np.stack(parts, axis=-2)  # (..., C, M) -> channel c*M + m
    return from_last(out.reshape(*out.shape[:-2], -1), fmt)


def ref_transpose(x, w, out_shape, strides, padding, dilation, fmt):
    """Scatter every input position through the kernel (w: (*k, out, in))."""
    x = to_last(x.astype(np.float64), fmt)
    rank = x.ndim - 2
    target = out_shape[1:-1] if fmt == "channels_last" else out_shape[2:]
    befores = [geometry(o, k, s, d, padding)[1] for o, k, s, d in
               zip(target, w.shape[:rank], strides, dilation)]
    out = np.zeros((x.shape[0], *target, w.shape[-2]))
    for pos in np.ndindex(*x.shape[1:-1]):
        for offset in np.ndindex(*w.shape[:rank]):
            idx = taps(pos, offset, strides, dilation, befores, target)
            if idx is not None:
                out[(slice(None), *idx)] += x[(slice(None), *pos)] @ w[offset].T
    return from_last(out, fmt)


def ref_local(x, w, ksize, strides, out_sizes, fmt):
    rows = []
    for p, pos in enumerate(itertools.product(*(range(o) for o in out_sizes))):
        if fmt == "channels_last":
            patch = [x[(slice(None), *(i * s + a for i, s, a in zip(pos, strides, off)), c)]
                     for off in np.ndindex(*ksize) for c in range(x.shape[-1])]
        else:
            patch = [x[(slice(None), c, *(i * s + a for i, s, a in zip(pos, strides, off)))]
                     for c in range(x.shape[1]) for off in np.ndindex(*ksize)]
        rows.append(np.stack(patch, axis=1).astype(np.float64) @ w[p])
    out = np.stack(rows, axis=1).reshape(x.shape[0], *out_sizes, -1)
    return from_last(out, fmt)


def ref_pool(x, pool_size, strides, padding, mode, fmt):
    x = to_last(x.astype(np.float64), fmt)
    rank = x.ndim - 2
    sizes = x.shape[1:-1]
    geo = [geometry(n, k, s, 1, padding) for n, k, s in zip(sizes, pool_size, strides)]
    out = np.zeros((x.shape[0], *(g[0] for g in geo), x.shape[-1]))
    for pos in np.ndindex(*out.shape[1:-1]):
        vals = []
        for offset in np.ndindex(*pool_size):
            idx = taps(pos, offset, strides, (1,) * rank, [g[1] for g in geo], sizes)
            if idx is not None:
                vals.append(x[(slice(None), *idx)])
        vals = np.stack(vals)
        out[(slice(None), *pos)] = vals.max(axis=0) if mode == "max" else vals.mean(axis=0)
    return from_last(out, fmt)


# -- helpers -------------------------------------------------------------------------------
def spatial_shape(batch, spatial, channels, fmt):
    return (batch, *spatial, channels) if fmt == "channels_last" else (batch, channels, *spatial)


def check(build, x_value, expected, dtype, *extra_feeds, rtol=None):
    """Feed ``x_value`` to a placeholder with a None batch, compare compiled, reference
    interpreter and ``expected``; the static shape must match the result."""
    x = K.placeholder(shape=(None,) + x_value.shape[1:], dtype=dtype)
    y = build(x)
    compiled, ref = run_both([x], [y], [x_value])
    assert y.dtype == dtype
    static = K.int_shape(y)
    assert static[0] is None
    assert static[1:] == expected.shape[1:], (static, expected.shape)
    tol = {} if rtol is None else {"rtol": rtol, "atol": rtol}
    assert_close(compiled[0], expected.astype(dtype), dtype, **tol)
    assert_close(ref[0], expected.astype(dtype), dtype, **tol)
    return y


FMTS = ("channels_last", "channels_first")


# -- conv1d / conv2d / conv3d --------------------------------------------------------------
CONV1D = [  # (steps, k, stride, dilation, padding)
    (7, 3, 1, 1, "valid"), (7, 3, 2, 1, "same"), (8, 2, 3, 2, "same"),
    (6, 3, 1, 2, "causal"), (9, 3, 2, 1, "causal"), (5, 5, 1, 1, "valid"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CONV1D)
@pytest.mark.parametrize("fmt", FMTS)
def test_conv1d(case, fmt, dtype):
    n, k, s, d, padding = case
    if padding == "causal" and fmt == "channels_first":
        return  # TF refuses this combination (tested in test_errors)
    x = random_array(RNG, spatial_shape(3, (n,), 2, fmt), dtype)
    w = random_array(RNG, (k, 2, 4), dtype)
    expected = ref_conv(x, w, (s,), padding, (d,), fmt)
    check(lambda t: conv1d(t, K.constant(w, dtype=dtype), strides=s, padding=padding,
                           data_format=fmt, dilation_rate=d), x, expected, dtype)


def test_conv1d_causal_sees_only_the_past():
    x = np.zeros((1, 6, 1), np.float32)
    x[0, 3, 0] = 1.0
    y = K.eval(conv1d(K.constant(x), K.ones((3, 1, 1)), padding="causal", dilation_rate=2))
    assert_close(y[0, :, 0], np.array([0, 0, 0, 1, 0, 1], np.float32))


CONV2D = [  # (spatial, kernel, strides, dilation, padding)
    ((6, 7), (3, 3), (1, 1), (1, 1), "valid"),
    ((6, 7), (3, 2), (2, 1), (1, 1), "same"),
    ((7, 8), (2, 3), (2, 3), (1, 1), "same"),  # even kernel: the extra pad goes last
    ((9, 8), (3, 3), (1, 1), (2, 3), "valid"),
    ((5, 6), (3, 2), (2, 2), (2, 1), "same"),
    ((4, 4), (4, 4), (1, 1), (1, 1), "valid"),
    ((5, 3), (1, 1), (2, 2), (1, 1), "valid"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CONV2D)
@pytest.mark.parametrize("fmt", FMTS)
def test_conv2d(case, fmt, dtype):
    spatial, ksize, strides, dilation, padding = case
    x = random_array(RNG, spatial_shape(2, spatial, 3, fmt), dtype)
    w = random_array(RNG, (*ksize, 3, 5), dtype)
    expected = ref_conv(x, w, strides, padding, dilation, fmt)
    check(lambda t: conv2d(t, K.constant(w, dtype=dtype), strides, padding, fmt, dilation),
          x, expected, dtype)


@pytest.mark.parametrize("channels", [1, 3, 4, 7])
@pytest.mark.parametrize("case", CONV2D[:5])
def test_conv2d_both_column_layouts(case, channels):
    """Few input channels (<= TAP_MAJOR_MAX_CHANNELS) build tap-major columns, more
    build row-per-position columns: both against the loop reference."""
    spatial, ksize, strides, dilation, padding = case
    x = random_array(RNG, spatial_shape(3, spatial, channels, "channels_last"), "float64")
    w = random_array(RNG, (*ksize, channels, 4), "float64")
    expected = ref_conv(x, w, strides, padding, dilation, "channels_last")
    check(lambda t: conv2d(t, K.constant(w, dtype="float64"), strides, padding,
                           "channels_last", dilation), x, expected, "float64")


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv3d(fmt, padding):
    x = random_array(RNG, spatial_shape(2, (5, 4, 6), 2, fmt), "float64")
    w = random_array(RNG, (3, 2, 3, 2, 3), "float64")
    for strides, dilation in [((1, 1, 1), (1, 1, 1)), ((2, 1, 3), (1, 1, 1)),
                              ((1, 1, 1), (2, 1, 2))]:
        K.clear_session()
        expected = ref_conv(x, w, strides, padding, dilation, fmt)
        check(lambda t, s=strides, d=dilation: conv3d(t, K.constant(w, dtype="float64"), s,
                                                      padding, fmt, d), x, expected, "float64")


def test_none_batch_two_sizes_one_function():
    w = random_array(RNG, (3, 3, 2, 4), "float32")
    x = K.placeholder(shape=(None, 6, 5, 2))
    y = conv2d(x, K.constant(w), strides=(2, 1), padding="same")
    assert K.int_shape(y) == (None, 3, 5, 4)
    f = K.function([x], [y])
    for batch in (1, 4, 0):
        xv = random_array(RNG, (batch, 6, 5, 2), "float32")
        out = f([xv])[0]
        assert_close(out, ref_conv(xv, w, (2, 1), "same", (1, 1), "channels_last")
                     .astype(np.float32), "float32")


def test_unknown_spatial_dims_fed_at_run_time():
    w = random_array(RNG, (2, 3, 3, 2), "float64")
    x = K.placeholder(shape=(None, 3, None, None), dtype="float64")
    y = conv2d(x, K.constant(w, dtype="float64"), padding="valid",
               data_format="channels_first")
    assert K.int_shape(y) == (None, 2, None, None)
    p = pool2d(x, (2, 2), (2, 2), padding="same", data_format="channels_first",
               pool_mode="avg")
    assert K.int_shape(p) == (None, 3, None, None)
    f = K.function([x], [y, p])
    for shape in [(2, 3, 5, 6), (1, 3, 2, 9)]:
        xv = random_array(RNG, shape, "float64")
        out, pooled = f([xv])
        assert_close(out, ref_conv(xv, w, (1, 1), "valid", (1, 1), "channels_first"))
        assert_close(pooled, ref_pool(xv, (2, 2), (2, 2), "same", "avg", "channels_first"))
    with pytest.raises(ShapeError, match="larger than the input"):
        f([np.zeros((1, 3, 1, 5))])  # 'valid' 2x3 window on a 1-row input


def test_data_format_none_is_read_at_call_time():
    w = random_array(RNG, (2, 2, 3, 1), "float32")
    config.set_image_data_format("channels_first")
    y = conv2d(K.placeholder(shape=(None, 3, 5, 4)), K.constant(w))
    assert K.int_shape(y) == (None, 1, 4, 3)
    config.set_image_data_format("channels_last")
    y = conv2d(K.placeholder(shape=(None, 5, 4, 3)), K.constant(w))
    assert K.int_shape(y) == (None, 4, 3, 1)


def test_float16_computes_and_returns_float16():
    x = random_array(RNG, (2, 5, 5, 2), "float16")
    w = random_array(RNG, (3, 3, 2, 2), "float16")
    expected = ref_conv(x, w, (1, 1), "same", (1, 1), "channels_last")
    check(lambda t: conv2d(t, K.constant(w, dtype="float16"), padding="same"), x, expected,
          "float16", rtol=2e-2)


def test_special_values_propagate():
    x = np.ones((1, 4, 4, 1), np.float32)
    x[0, 0, 0, 0] = np.nan
    x[0, 3, 3, 0] = np.inf
    y = K.eval(conv2d(K.constant(x), K.ones((2, 2, 1, 1))))
    assert np.isnan(y[0, 0, 0, 0]) and np.isinf(y[0, 2, 2, 0]) and y[0, 1, 1, 0] == 4.0


# -- transposed convolutions ---------------------------------------------------------------
TRANSPOSE2D = [  # (out spatial, in spatial, kernel, strides, padding, dilation)
    ((8, 7), (4, 4), (3, 3), (2, 2), "same", (1, 1)),
    ((9, 9), (4, 4), (3, 3), (2, 2), "valid", (1, 1)),
    ((10, 10), (4, 4), (3, 3), (2, 2), "valid", (1, 1)),  # (10-3)//2+1 = 4 too
    ((6, 5), (4, 3), (3, 3), (1, 1), "valid", (1, 1)),
    ((7, 6), (7, 6), (3, 2), (1, 1), "same", (2, 2)),
    ((9, 8), (5, 4), (3, 3), (3, 3), "valid", (2, 2)),  # strides ignored with dilation
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", TRANSPOSE2D)
@pytest.mark.parametrize("fmt", FMTS)
def test_conv2d_transpose(case, fmt, dtype):
    target, in_sp, ksize, strides, padding, dilation = case
    eff_strides = strides if dilation == (1, 1) else (1, 1)
    x = random_array(RNG, spatial_shape(2, in_sp, 3, fmt), dtype)
    w = random_array(RNG, (*ksize, 4, 3), dtype)
    out_shape = spatial_shape(None, target, 4, fmt)
    expected = ref_transpose(x, w, spatial_shape(2, target, 4, fmt), eff_strides, padding,
                             dilation, fmt)
    check(lambda t: conv2d_transpose(t, K.constant(w, dtype=dtype), out_shape, strides,
                                     padding, fmt, dilation), x, expected, dtype)


def test_conv2d_transpose_is_the_adjoint_of_conv2d():
    x = random_array(RNG, (2, 7, 6, 3), "float64")
    w = random_array(RNG, (3, 2, 3, 4), "float64")
    y = random_array(RNG, (2, 4, 3, 4), "float64")
    conv = K.eval(conv2d(K.constant(x, "float64"), K.constant(w, "float64"), (2, 2), "same"))
    back = K.eval(conv2d_transpose(K.constant(y, "float64"),
                                   K.constant(w, "float64"),  # same array: (k, out, in)
                                   (2, 7, 6, 3), (2, 2), "same"))
    assert conv.shape == y.shape
    np.testing.assert_allclose(np.sum(conv * y), np.sum(x * back), rtol=1e-10)


@pytest.mark.parametrize("fmt", FMTS)
def test_conv3d_transpose(fmt):
    x = random_array(RNG, spatial_shape(2, (2, 3, 2), 2, fmt), "float64")
    w = random_array(RNG, (2, 3, 2, 3, 2), "float64")
    target = (4, 6, 3)
    expected = ref_transpose(x, w, spatial_shape(2, target, 3, fmt), (2, 2, 2), "same",
                             (1, 1, 1), fmt)
    check(lambda t: conv3d_transpose(t, K.constant(w, dtype="float64"),
                                     spatial_shape(None, target, 3, fmt), (2, 2, 2), "same",
                                     fmt), x, expected, "float64")


def test_conv2d_transpose_batch_checked_at_run_time():
    x = K.placeholder(shape=(None, 2, 2, 1))
    y = conv2d_transpose(x, K.ones((2, 2, 1, 1)), (3, 4, 4, 1), (2, 2))
    assert K.int_shape(y) == (3, 4, 4, 1)
    f = K.function([x], [y])
    assert f([np.ones((3, 2, 2, 1), np.float32)])[0].shape == (3, 4, 4, 1)
    with pytest.raises(ValueError, match="batch"):
        f([np.ones((2, 2, 2, 1), np.float32)])


# -- depthwise and separable ---------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("case", [((6, 5), (3, 3), (1, 1), (1, 1), "valid"),
                                  ((7, 6), (2, 3), (2, 2), (1, 1), "same"),
                                  ((7, 7), (3, 2), (1, 1), (2, 2), "same")])
def test_depthwise_conv2d(case, fmt, dtype):
    spatial, ksize, strides, dilation, padding = case
    x = random_array(RNG, spatial_shape(2, spatial, 3, fmt), dtype)
    w = random_array(RNG, (*ksize, 3, 2), dtype)
    expected = ref_depthwise(x, w, strides, padding, dilation, fmt)
    check(lambda t: depthwise_conv2d(t, K.constant(w, dtype=dtype), strides, padding, fmt,
                                     dilation), x, expected, dtype)


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_separable_conv2d(fmt, padding):
    x = random_array(RNG, spatial_shape(2, (6, 7), 3, fmt), "float64")
    dw = random_array(RNG, (3, 2, 3, 2), "float64")
    pw = random_array(RNG, (1, 1, 6, 5), "float64")
    mid = ref_depthwise(x, dw, (2, 1), padding, (1, 1), fmt)
    expected = ref_conv(mid, pw, (1, 1), "valid", (1, 1), fmt)
    check(lambda t: separable_conv2d(t, K.constant(dw, "float64"), K.constant(pw, "float64"),
                                     (2, 1), padding, fmt), x, expected, "float64")


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_separable_conv1d(fmt, padding):
    x = random_array(RNG, spatial_shape(3, (9,), 2, fmt), "float32")
    dw = random_array(RNG, (3, 2, 3), "float32")
    pw = random_array(RNG, (1, 6, 4), "float32")
    mid = ref_depthwise(x, dw, (2,), padding, (2,), fmt)
    expected = ref_conv(mid, pw, (1,), "valid", (1,), fmt)
    check(lambda t: separable_conv1d(t, K.constant(dw), K.constant(pw), 2, padding, fmt, 2),
          x, expected, "float32")


# -- local convolutions --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fmt", FMTS)
def test_local_conv1d(fmt, dtype):
    x = random_array(RNG, spatial_shape(3, (9,), 2, fmt), dtype)
    w = random_array(RNG, (4, 3 * 2, 5), dtype)  # (9 - 3)//2 + 1 = 4 steps
    expected = ref_local(x, w, (3,), (2,), (4,), fmt)
    check(lambda t: local_conv1d(t, K.constant(w, dtype=dtype), (3,), (2,), fmt), x,
          expected, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fmt", FMTS)
def test_local_conv2d(fmt, dtype):
    x = random_array(RNG, spatial_shape(2, (5, 6), 3, fmt), dtype)
    w = random_array(RNG, (2 * 3, 2 * 2 * 3, 4), dtype)
    expected = ref_local(x, w, (2, 2), (2, 2), (2, 3), fmt)
    check(lambda t: local_conv2d(t, K.constant(w, dtype=dtype), (2, 2), (2, 2), (2, 3), fmt),
          x, expected, dtype)


def test_local_conv2d_uses_a_prefix_of_a_larger_input():
    x = random_array(RNG, (2, 7, 7, 1), "float64")
    w = random_array(RNG, (4, 9, 2), "float64")
    expected = ref_local(x, w, (3, 3), (1, 2), (2, 2), "channels_last")
    check(lambda t: local_conv2d(t, K.constant(w, "float64"), (3, 3), (1, 2), (2, 2)), x,
          expected, "float64")


# -- pooling -------------------------------------------------------------------------------
POOL2D = [((6, 7), (2, 2), (2, 2), "valid"), ((5, 7), (3, 2), (2, 3), "same"),
          ((5, 5), (3, 3), (1, 1), "same"), ((4, 6), (4, 3), (1, 3), "valid")]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("case", POOL2D)
@pytest.mark.parametrize("fmt", FMTS)
def test_pool2d(case, fmt, mode, dtype):
    spatial, size, strides, padding = case
    x = random_array(RNG, spatial_shape(2, spatial, 3, fmt), dtype) - 5.0  # all negative-ish
    expected = ref_pool(x, size, strides, padding, mode, fmt)
    check(lambda t: pool2d(t, size, strides, padding, fmt, mode), x, expected, dtype)


def test_pool_same_ignores_padding():
    x = K.constant(-np.ones((1, 3, 3, 1)))
    assert np.all(K.eval(pool2d(x, (2, 2), (2, 2), "same", pool_mode="max")) == -1)
    assert np.all(K.eval(pool2d(x, (2, 2), (2, 2), "same", pool_mode="avg")) == -1)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("fmt", FMTS)
def test_pool3d(fmt, mode):
    x = random_array(RNG, spatial_shape(2, (5, 4, 3), 2, fmt), "float64")
    for size, strides, padding in [((2, 2, 2), (2, 2, 2), "valid"),
                                   ((3, 2, 2), (2, 1, 2), "same")]:
        K.clear_session()
        expected = ref_pool(x, size, strides, padding, mode, fmt)
        check(lambda t, k=size, s=strides, p=padding: pool3d(t, k, s, p, fmt, mode), x,
              expected, "float64")


# -- errors --------------------------------------------------------------------------------
def _x(shape=(None, 5, 5, 3), dtype="float32"):
    return K.placeholder(shape=shape, dtype=dtype)


ERRORS = [
    (lambda: conv2d(_x(), K.ones((3, 3, 4, 2))), ShapeError, "3 channels"),
    (lambda: conv2d(_x(), K.ones((6, 3, 3, 2))), ShapeError, "larger than the input"),
    (lambda: conv2d(_x(), K.ones((3, 3, 3, 2)), padding="full"), GraphError,
     "Invalid padding"),
    (lambda: conv2d(_x(), K.ones((3, 3, 3, 2)), padding="causal"), GraphError,
     "Invalid padding"),
    (lambda: conv2d(_x(), K.ones((3, 3, 3, 2)), data_format="NHWC"), GraphError,
     "data_format"),
    (lambda: conv2d(_x((None, 5, 3)), K.ones((3, 3, 3, 2))), ShapeError, "rank 4"),
    (lambda: conv2d(_x(), K.ones((3, 3, 2))), ShapeError, "kernel must have rank 4"),
    (lambda: conv2d(_x(), K.ones((3, 3, 3, 2)), strides=(1, 0)), GraphError, "strides"),
    (lambda: conv2d(_x(), K.ones((3, 3, 3, 2)), strides=(1, 1, 1)), GraphError, "strides"),
    (lambda: conv2d(_x(dtype="int32"), K.ones((3, 3, 3, 2), dtype="int32")), DTypeError,
     "int32"),
    (lambda: conv2d(_x(), K.ones((3, 3, 3, 2), dtype="float64")), DTypeError, "differ"),
    (lambda: conv1d(_x((None, 5, 3)), K.ones((2, 3, 1)), padding="causal",
                    data_format="channels_first"), GraphError, "causal"),
    (lambda: conv3d(_x(), K.ones((2, 2, 2, 3, 1))), ShapeError, "rank 5"),
    (lambda: depthwise_conv2d(_x(), K.ones((3, 3, 2, 2))), ShapeError, "channels"),
    (lambda: separable_conv2d(_x(), K.ones((3, 3, 3, 2)), K.ones((2, 2, 6, 4))), ShapeError,
     "pointwise"),
    (lambda: separable_conv2d(_x(), K.ones((3, 3, 3, 2)), K.ones((1, 1, 5, 4))), ShapeError,
     "pointwise"),
    (lambda: separable_conv1d(_x((None, 5, 3)), K.ones((2, 3, 1)), K.ones((1, 3, 2)),
                              padding="causal"), GraphError, "Invalid padding"),
    (lambda: conv2d_transpose(_x(), K.ones((3, 3, 2, 3)), (None, 12, 12, 2), (2, 2), "same"),
     ShapeError, "not reachable"),
    (lambda: conv2d_transpose(_x(), K.ones((3, 3, 2, 4)), (None, 10, 10, 2), (2, 2)),
     ShapeError, "channels"),
    (lambda: conv2d_transpose(_x(), K.ones((3, 3, 2, 3)), (None, 10, 10, 5), (2, 2)),
     ShapeError, "channels"),
    (lambda: conv2d_transpose(_x(), K.ones((3, 3, 2, 3)), (None, 10, 10), (2, 2)),
     ShapeError, "output_shape"),
    (lambda: conv2d_transpose(_x(), K.ones((3, 3, 2, 3)), (None, 7, 7, 2),
                              dilation_rate=(1, 2)), GraphError, "equal"),
    (lambda: conv2d_transpose(_x(), K.ones((3, 3, 2, 3)), K.constant([1, 7, 7, 2])),
     DTypeError, "output_shape tensors must have an integer dtype"),
    (lambda: conv2d_transpose(_x((4, 5, 5, 3)), K.ones((3, 3, 2, 3)), (2, 7, 7, 2)),
     ShapeError, "batch"),
    (lambda: local_conv2d(_x(), K.ones((4, 8, 2)), (2, 2), (2, 2), (2, 2)), ShapeError,
     "patch size"),
    (lambda: local_conv2d(_x(), K.ones((9, 12, 2)), (2, 2), (2, 2), (2, 2)), ShapeError,
     "positions"),
    (lambda: local_conv2d(_x(), K.ones((9, 12, 2)), (2, 2), (2, 2), (3, 3)), ShapeError,
     "at least 6"),
    (lambda: pool2d(_x(), (2, 2), pool_mode="sum"), GraphError, "pooling mode"),
    (lambda: pool2d(_x(), (6, 2)), ShapeError, "larger than the input"),
    (lambda: pool2d(_x(dtype="int32"), (2, 2)), DTypeError, "int32"),
    (lambda: pool3d(_x(), (2, 2, 2)), ShapeError, "rank 5"),
]


@pytest.mark.parametrize("index", range(len(ERRORS)))
def test_errors(index):
    build, cls, pattern = ERRORS[index]
    with pytest.raises(cls, match=pattern) as info:
        build()
    assert "test_conv.py" in str(info.value)  # names the user's line


def test_error_names_the_keras_function():
    with pytest.raises(ShapeError, match=r"^conv2d: .*channels"):
        conv2d(_x(), K.ones((3, 3, 4, 2)))


def test_registry_ops_are_kernels():
    for name in ("conv", "depthwise_conv", "conv_transpose", "local_conv", "pool"):
        op = REGISTRY[name]
        assert callable(op.kernel) and callable(op.reference) and op.doc


def test_conv2d_transpose_output_shape_checked_at_run_time():
    x = K.placeholder(shape=(None, None, None, 1))
    y = conv2d_transpose(x, K.ones((3, 3, 1, 1)), (None, 4, 4, 1), (2, 2), "same")
    f = K.function([x], [y])
    assert f([np.ones((1, 2, 2, 1), np.float32)])[0].shape == (1, 4, 4, 1)
    with pytest.raises(ShapeError, match="not reachable"):
        f([np.ones((1, 3, 3, 1), np.float32)])


def test_docstring_examples_run():
    import doctest

    from symgraph.backend import _conv

    result = doctest.testmod(_conv, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 12
