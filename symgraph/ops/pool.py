"""The pooling op ``pool``: max or average pooling over 1, 2 or 3 spatial dims, both data
formats, padded entries never counted ('same' averages divide by the number of valid
entries in each window). Max pooling of float32 with a multiple of 16 channels runs the
SIMD kernel of :mod:`symgraph.kernels.pooling`; the rest is ``prod(k)`` vectorized passes
over strided slices. The NumPy reference loops over the output windows. Its backward ops
are in :mod:`symgraph.ops.pool_grad`.
"""

from __future__ import annotations

import itertools

import numpy as np

from .conv import (
    _check_common,
    _float_dtype,
    _from_last,
    _inputs,
    _join,
    _pad,
    _plan,
    _split,
    _to_last,
    window_output,
)
from .registry import KERNEL, Op, register

POOL_MODES = ("max", "avg")


def _pool_infer(in_shapes, in_dtypes, attrs):
    (x_shape,) = in_shapes
    fmt = attrs["data_format"]
    _check_common(x_shape, attrs)
    dtype = _float_dtype(in_dtypes, "pooling")
    if attrs["padding"] not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {attrs['padding']!r}")
    if attrs["mode"] not in POOL_MODES:
        raise ValueError(f"pool_mode must be 'max' or 'avg', got {attrs['mode']!r}")
    batch, spatial, channels = _split(x_shape, fmt)
    out = tuple(window_output(n, k, s, 1, attrs["padding"])[0] for n, k, s in
                zip(spatial, attrs["pool_size"], attrs["strides"]))
    return _join(batch, out, channels, fmt), dtype


def pool_channels_last(x, pool_size, strides, padding, mode, direct: bool = True):
    """Max or average pooling; padded entries never count ('same' averages divide by the
    number of valid entries in each window). Max pooling of float32 with a multiple of
    16 channels runs the SIMD kernel of :mod:`symgraph.kernels.pooling` when ``direct``
    is set (tier 0 clears it: it would compile): 64x24x24x64, 2x2, 0.7 -> 0.3 ms."""
    rank = x.ndim - 2
    out, pads = _plan(x.shape[1:-1], pool_size, strides, (1,) * rank, padding)
    out_shape = (x.shape[0], *out, x.shape[-1])
    if 0 in out_shape:
        return np.zeros(out_shape, dtype=x.dtype)
    fill = -np.inf if mode == "max" else 0.0
    xp = _pad(x, pads, fill)
    if direct and mode == "max" and x.dtype == np.float32 and x.shape[-1] % 16 == 0 \
            and rank in (1, 2):
        from ..kernels import pooling  # numba: imported on first use

        return pooling.max_pool(xp, pool_size, strides, out)
    acc = None
    for offset in itertools.product(*(range(k) for k in pool_size)):
        index = (slice(None),) + tuple(slice(a, a + (o - 1) * s + 1, s)
                                       for a, o, s in zip(offset, out, strides)) \
            + (slice(None),)
        part = xp[index]
        if acc is None:
            acc = part.copy()
        elif mode == "max":
            np.maximum(acc, part, out=acc)
        else:
            acc += part
    if mode == "avg":
        # valid entries per window factor over the dims: count = prod of 1-D counts
        count = np.ones(out, dtype=x.dtype)
        for dim, (n, o, k, s, (b, _)) in enumerate(zip(x.shape[1:-1], out, pool_size,
                                                      strides, pads)):
            start = np.arange(o) * s - b
            valid = np.minimum(start + k, n) - np.maximum(start, 0)
            shape = [1] * rank
            shape[dim] = o
            count = count * valid.reshape(shape).astype(x.dtype)
        acc /= count[..., None]
    return acc


def _pool_kernel(args, in_shapes, attrs, out_shape, out_dtype, direct: bool = True):
    fmt = attrs["data_format"]
    (x,) = _inputs(args, fmt, out_dtype)
    res = pool_channels_last(_to_last(x, fmt), attrs["pool_size"], attrs["strides"],
                             attrs["padding"], attrs["mode"], direct=direct)
    return _from_last(res, fmt).astype(out_dtype, copy=False)


def _pool_tier0(args, in_shapes, attrs, out_shape, out_dtype):
    """Pooling by strided NumPy passes: nothing to compile (``runtime.tiered``)."""
    return _pool_kernel(args, in_shapes, attrs, out_shape, out_dtype, direct=False)


def _ref_pool(arrays, attrs, out_shape, out_dtype):
    """Loop over output windows, clipped to the input (pads never count)."""
    fmt = attrs["data_format"]
    x = _to_last(arrays[0].astype(np.float64), fmt)
    sizes, strides = attrs["pool_size"], attrs["strides"]
    out, pads = _plan(x.shape[1:-1], sizes, strides, (1,) * len(sizes), attrs["padding"])
    res = np.zeros((x.shape[0], *out, x.shape[-1]))
    reduce = np.max if attrs["mode"] == "max" else np.mean
    for pos in np.ndindex(*out):
        window = tuple(slice(max(i * s - b, 0), i * s - b + k)
                       for i, s, k, (b, _) in zip(pos, strides, sizes, pads))
        block = x[(slice(None), *window, slice(None))]
        res[(slice(None), *pos, slice(None))] = reduce(
            block.reshape(x.shape[0], -1, x.shape[-1]), axis=1)
    return _from_last(res, fmt).astype(out_dtype)


POOL = register(Op(
    "pool", KERNEL, _pool_infer, _ref_pool, kernel=_pool_kernel, extra={"tier0": _pool_tier0},
    doc="N-d max or average pooling (padding never counts)"))
