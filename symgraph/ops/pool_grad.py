"""Backward ops of pooling (:mod:`symgraph.ops.pool`'s ``pool``): ``max_pool_grad``,
its adjoint ``max_pool_gather``, and ``avg_pool_grad``.

Max pooling routes each window's gradient to one entry: the first maximum of the
window in row-major order over the window offsets (TF's CPU rule: the first max wins,
later equal entries get nothing). Padded positions never win. Average pooling spreads
``g / count`` over the window's valid (unpadded) entries, ``count`` being that number,
as the forward pass divides by it. ``avg_pool_grad``'s last input is read for its shape
only.

Second order: ``max_pool_grad`` is piecewise constant in ``x`` (zero gradient) and linear
in ``g``; its adjoint ``max_pool_gather`` reads the routed entries back, and
``avg_pool_grad``'s adjoint is average pooling again.

Kernels work channels-last. Max pooling: numba kernels that find each window's first
maximum through a bounds-checked ``(positions, window offsets)`` table of flat input
indices (:func:`symgraph.ops.conv_grad.window_table`); tier 0 (``runtime.tiered``) runs
strided NumPy passes that make the same choice. Average pooling: ``prod(k)`` vectorized
passes over strided slices. The references loop over output positions in plain NumPy
(``np.argmax`` for the first maximum).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..kernels import cache, pooling
from .conv import _float_dtype, _from_last, _pad, _plan, _split, _to_last
from .conv_grad import (
    _check_grad_shape,
    _checked_table,
    _crop,
    _finish,
    _make,
    _offset_index,
    _work,
)
from .pool import POOL, _pool_infer
from .registry import KERNEL, Op, define_grad, register

_SOURCE = '''import numpy as np
from numba import njit


@njit(cache=CACHE, nogil=True)
def _first_max(x, n, p, table, best, arg):
    for ch in range(x.shape[2]):
        best[ch] = -np.inf
        arg[ch] = -1
    for j in range(table.shape[1]):
        row = table[p, j]
        if row < 0:
            continue
        for ch in range(x.shape[2]):
            v = x[n, row, ch]
            if arg[ch] < 0 or v > best[ch]:
                best[ch] = v
                arg[ch] = row


@njit(cache=CACHE, nogil=True)
def max_pool_grad(x, g, table, dx):
    c = x.shape[2]
    best = np.empty(c, dtype=x.dtype)
    arg = np.empty(c, dtype=np.int64)
    for n in range(x.shape[0]):
        for p in range(table.shape[0]):
            _first_max(x, n, p, table, best, arg)
            for ch in range(c):
                if arg[ch] >= 0:
                    dx[n, arg[ch], ch] += g[n, p, ch]


@njit(cache=CACHE, nogil=True)
def max_pool_gather(x, h, table, out):
    c = x.shape[2]
    best = np.empty(c, dtype=x.dtype)
    arg = np.empty(c, dtype=np.int64)
    for n in range(x.shape[0]):
        for p in range(table.shape[0]):
            _first_max(x, n, p, table, best, arg)
            for ch in range(c):
                if arg[ch] >= 0:
                    out[n, p, ch] = h[n, arg[ch], ch]
'''


def _kernels():
    return cache.load(_SOURCE)


def _pool_attrs(attrs, mode=None):
    out = {k: attrs[k] for k in ("rank", "pool_size", "strides", "padding", "data_format",
                                 "mode")}
    if mode is not None:
        out["mode"] = mode
    return out


def _pool_plan(spatial, attrs):
    rank = len(spatial)
    return _plan(tuple(spatial), attrs["pool_size"], attrs["strides"], (1,) * rank,
                 attrs["padding"])


def _valid_counts(spatial, out, pool_size, strides, pads, dtype):
    """Unpadded entries per window, shape ``out`` (the count factors over the dims)."""
    rank = len(spatial)
    count = np.ones(out, dtype=dtype)
    for dim, (n, o, k, s, (b, _)) in enumerate(zip(spatial, out, pool_size, strides, pads)):
        start = np.arange(o) * s - b
        valid = np.minimum(start + k, n) - np.maximum(start, 0)
        shape = [1] * rank
        shape[dim] = o
        count = count * valid.reshape(shape).astype(dtype)
    return count


def _max_pool_call(name, x, other, pool_size, strides, padding):
    """Run the numba max-pool kernel ``name`` on channels-last ``x`` and ``other`` (g for
    max_pool_grad, of the pooled shape; h for max_pool_gather, of x's shape)."""
    rank = x.ndim - 2
    n, spatial, c = x.shape[0], x.shape[1:-1], x.shape[-1]
    out, pads = _plan(spatial, pool_size, strides, (1,) * rank, padding)
    pooled = (n, *out, c)
    expected = pooled if name == "max_pool_grad" else x.shape
    if other.shape != expected:
        raise ValueError(f"{name}: the second input has shape {other.shape}, expected "
                         f"{expected}")
    res = np.zeros(x.shape if name == "max_pool_grad" else pooled, dtype=x.dtype)
    if res.size and math.prod(pooled):
        table = _checked_table(spatial, out, pool_size, strides, (1,) * rank, pads)
        x3 = np.ascontiguousarray(x).reshape(n, -1, c)
        o3 = np.ascontiguousarray(other, dtype=x.dtype).reshape(n, -1, c)
        getattr(_kernels(), name)(x3, o3, table, res.reshape(n, -1, c))
    return res


def _first_max_choice(x, pool_size, strides, padding):
    """``(choice, out, pads)``: per pooled entry, the row-major window offset of its
    first maximum (-1 for a window of padding only), as the compiled kernels choose it:
    the first valid entry, then any entry greater than the best so far (NaN never
    displaces, and is kept where it came first). One strided pass per offset."""
    rank = x.ndim - 2
    n, spatial, c = x.shape[0], x.shape[1:-1], x.shape[-1]
    out, pads = _plan(spatial, pool_size, strides, (1,) * rank, padding)
    xp = _pad(x, pads)
    valid = _pad(np.ones((1, *spatial, 1), dtype=bool), pads)  # False on padding
    best = np.full((n, *out, c), -np.inf, dtype=x.dtype)
    choice = np.full((n, *out, c), -1, dtype=np.int64)
    for j, offset in enumerate(itertools.product(*(range(k) for k in pool_size))):
        index = _offset_index(offset, (1,) * rank, out, strides)
        values = xp[index]
        take = valid[index] & ((choice < 0) | (values > best))
        np.copyto(best, values, where=take)
        np.copyto(choice, j, where=take)
    return choice, out, pads


def _max_pool_grad_by_maxima(x, g, pool_size, strides, padding):
    """:func:`max_pool_grad_strided` through the windows' maxima: ``g`` goes to the
    first offset equal to its window's maximum, with byte masks in place of the
    offset-choice arrays (~3x faster). None where a maximum is NaN or -inf: ties with
    the -inf padding, or a NaN the kernels choose by position, take the general path."""
    rank = x.ndim - 2
    out, pads = _plan(x.shape[1:-1], pool_size, strides, (1,) * rank, padding)
    offsets = list(itertools.product(*(range(k) for k in pool_size)))
    if g.shape != (x.shape[0], *out, x.shape[-1]) or not g.size or len(offsets) < 2:
        return None
    xp = _pad(x, pads, -np.inf)
    indices = [_offset_index(offset, (1,) * rank, out, strides) for offset in offsets]
    best = np.maximum(xp[indices[0]], xp[indices[1]])
    for index in indices[2:]:
        np.maximum(best, xp[index], out=best)
    if not np.all(best > -np.inf):  # NaN compares false too
        return None
    padded = tuple(s + b + a for s, (b, a) in zip(x.shape[1:-1], pads))
    buf = np.zeros((x.shape[0], *padded, x.shape[-1]), dtype=x.dtype)
    disjoint = all(s >= k for s, k in zip(strides, pool_size))  # windows do not overlap
    free = np.ones(best.shape, dtype=bool)  # windows whose maximum is not placed yet
    hit = np.empty(best.shape, dtype=bool)
    part = None if disjoint else np.empty(best.shape, dtype=x.dtype)
    for index in indices:
        np.equal(xp[index], best, out=hit)
        hit &= free
        free &= ~hit
        if disjoint:
            np.multiply(g, hit, out=buf[index])
        else:
            buf[index] += np.multiply(g, hit, out=part)
    return np.ascontiguousarray(_crop(buf, x.shape[1:-1], pads))


def max_pool_grad_strided(x, g, pool_size, strides, padding):
    """:func:`max_pool_grad_channels_last` without a compiled kernel (tier 0): per window
    offset, one strided add of ``g`` where that offset holds the first maximum."""
    rank = x.ndim - 2
    fast = _max_pool_grad_by_maxima(x, g, pool_size, strides, padding)
    if fast is not None:
        return fast
    choice, out, pads = _first_max_choice(x, pool_size, strides, padding)
    if g.shape != choice.shape:
        raise ValueError(f"max_pool_grad: the second input has shape {g.shape}, expected "
                         f"{choice.shape}")
    padded = tuple(s + b + a for s, (b, a) in zip(x.shape[1:-1], pads))
    buf = np.zeros((x.shape[0], *padded, x.shape[-1]), dtype=x.dtype)
    if g.size:
        zero = np.zeros((), dtype=x.dtype)
        for j, offset in enumerate(itertools.product(*(range(k) for k in pool_size))):
            buf[_offset_index(offset, (1,) * rank, out, strides)] += np.where(
                choice == j, g, zero)
    return np.ascontiguousarray(_crop(buf, x.shape[1:-1], pads))


def max_pool_gather_strided(x, h, pool_size, strides, padding):
    """:func:`max_pool_gather_channels_last` without a compiled kernel (tier 0)."""
    rank = x.ndim - 2
    if h.shape != x.shape:
        raise ValueError(f"max_pool_gather: the second input has shape {h.shape}, "
                         f"expected {x.shape}")
    choice, out, pads = _first_max_choice(x, pool_size, strides, padding)
    hp = _pad(h.astype(x.dtype, copy=False), pads)
    res = np.zeros(choice.shape, dtype=x.dtype)
    for j, offset in enumerate(itertools.product(*(range(k) for k in pool_size))):
        np.copyto(res, hp[_offset_index(offset, (1,) * rank, out, strides)],
                  where=choice == j)
    return res


def max_pool_grad_channels_last(x, g, pool_size, strides, padding):
    """``dx``: each window's ``g`` added at its first maximum (row-major over the window;
    padded positions never win). Unpadded float32 windows that do not overlap, with a
    multiple of 16 channels, take the SIMD kernel (``kernels.pooling``; the Conv2D
    benchmark's 64x24x24x64, 2x2: 2.5 -> 1.3 ms); the rest the per-window table loop."""
    rank = x.ndim - 2
    out, pads = _plan(x.shape[1:-1], pool_size, strides, (1,) * rank, padding)
    if rank in (1, 2) and g.shape == (x.shape[0], *out, x.shape[-1]) and \
            g.dtype == x.dtype and pooling.grad_usable(x.dtype, x.shape[-1], rank,
                                                       pool_size, strides, pads):
        return pooling.max_pool_grad(x, g, pool_size, strides)
    return _max_pool_call("max_pool_grad", x, g, pool_size, strides, padding)


def max_pool_gather_channels_last(x, h, pool_size, strides, padding):
    """The adjoint of ``max_pool_grad`` in ``g``: each window reads ``h`` (x's shape) at
    its first maximum (an array of the pooled shape)."""
    return _max_pool_call("max_pool_gather", x, h, pool_size, strides, padding)


def avg_pool_grad_channels_last(g, x_spatial, pool_size, strides, padding):
    """``dx``: each window's ``g / count`` added to its valid entries."""
    rank = g.ndim - 2
    out, pads = _plan(tuple(x_spatial), pool_size, strides, (1,) * rank, padding)
    padded = tuple(n + b + a for n, (b, a) in zip(x_spatial, pads))
    buf = np.zeros((g.shape[0], *padded, g.shape[-1]), dtype=g.dtype)
    if g.size:
        share = g / _valid_counts(tuple(x_spatial), out, pool_size, strides, pads,
                                  g.dtype)[..., None]
        for offset in itertools.product(*(range(k) for k in pool_size)):
            buf[_offset_index(offset, (1,) * rank, out, strides)] += share
    return _crop(buf, tuple(x_spatial), pads)


def _max_pool_grad_infer(in_shapes, in_dtypes, attrs):
    x, g = in_shapes
    dtype = _float_dtype(list(in_dtypes), "pooling gradient")
    y, _ = _pool_infer([x], [dtype], attrs)
    _check_grad_shape(g, y)
    return tuple(x), dtype


def _max_pool_gather_infer(in_shapes, in_dtypes, attrs):
    x, h = in_shapes
    dtype = _float_dtype(list(in_dtypes), "pooling gradient")
    _check_grad_shape(h, x, "the gathered tensor")
    y, _ = _pool_infer([x], [dtype], attrs)
    return tuple(y), dtype


def _avg_pool_grad_infer(in_shapes, in_dtypes, attrs):
    g, x = in_shapes
    dtype = _float_dtype([in_dtypes[0]], "pooling gradient")
    y, _ = _pool_infer([x], [dtype], attrs)
    _check_grad_shape(g, y)
    return tuple(x), dtype


def _channels_last_kernel(run):
    """An op kernel ``(args, in_shapes, attrs, out_shape, out_dtype)`` running
    ``run(x, other, pool_size, strides, padding)`` on the channels-last inputs."""
    def kernel(args, in_shapes, attrs, out_shape, out_dtype):
        fmt = attrs["data_format"]
        x, other = _work(args, out_dtype)
        res = run(_to_last(x, fmt), _to_last(other, fmt), attrs["pool_size"],
                  attrs["strides"], attrs["padding"])
        return _finish(res, fmt, out_shape, out_dtype)
    return kernel


_max_pool_grad_kernel = _channels_last_kernel(max_pool_grad_channels_last)
_max_pool_gather_kernel = _channels_last_kernel(max_pool_gather_channels_last)
# tier 0 (runtime.tiered): strided NumPy passes in place of the numba loops, nothing to
# compile, the same maxima chosen
_max_pool_grad_tier0 = _channels_last_kernel(max_pool_grad_strided)
_max_pool_gather_tier0 = _channels_last_kernel(max_pool_gather_strided)


def _avg_pool_grad_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    fmt = attrs["data_format"]
    (g,) = _work(args[:1], out_dtype)
    res = avg_pool_grad_channels_last(_to_last(g, fmt), _split(out_shape, fmt)[1],
                                      attrs["pool_size"], attrs["strides"], attrs["padding"])
    return _finish(res, fmt, out_shape, out_dtype)


def _ref_pool_windows(spatial, attrs):
    """``[(output position, window slices clipped to the input)]``."""
    out, pads = _pool_plan(spatial, attrs)
    return [(pos, tuple(slice(max(i * s - b, 0), min(i * s - b + k, n))
                        for i, s, k, (b, _), n in zip(pos, attrs["strides"], attrs["pool_size"],
                                                      pads, spatial)))
            for pos in np.ndindex(*out)]


def _ref_first_max(block):
    """Per (batch, channel) of a channels-last block: the index tuple of its first max
    (``np.argmax`` returns the first occurrence in row-major order)."""
    n, c = block.shape[0], block.shape[-1]
    flat = np.argmax(block.reshape(n, -1, c), axis=1)  # (N, C)
    return np.unravel_index(flat, block.shape[1:-1])


def _ref_max_pool_grad(arrays, attrs, out_shape, out_dtype):
    fmt = attrs["data_format"]
    x, g = (_to_last(np.asarray(a, dtype=np.float64), fmt) for a in arrays)
    dx = np.zeros(x.shape)
    nn, cc = np.meshgrid(np.arange(x.shape[0]), np.arange(x.shape[-1]), indexing="ij")
    for pos, window in _ref_pool_windows(x.shape[1:-1], attrs):
        where = _ref_first_max(x[(slice(None), *window, slice(None))])
        full = tuple(w.start + i for w, i in zip(window, where))
        np.add.at(dx, (nn, *full, cc), g[(slice(None), *pos)])
    return _from_last(dx, fmt).astype(out_dtype)


def _ref_max_pool_gather(arrays, attrs, out_shape, out_dtype):
    fmt = attrs["data_format"]
    x, h = (_to_last(np.asarray(a, dtype=np.float64), fmt) for a in arrays)
    res = np.zeros(_to_last(np.zeros(out_shape), fmt).shape)
    nn, cc = np.meshgrid(np.arange(x.shape[0]), np.arange(x.shape[-1]), indexing="ij")
    for pos, window in _ref_pool_windows(x.shape[1:-1], attrs):
        where = _ref_first_max(x[(slice(None), *window, slice(None))])
        full = tuple(w.start + i for w, i in zip(window, where))
        res[(slice(None), *pos)] = h[(nn, *full, cc)]
    return _from_last(res, fmt).astype(out_dtype)


def _ref_avg_pool_grad(arrays, attrs, out_shape, out_dtype):
    fmt = attrs["data_format"]
    g = _to_last(np.asarray(arrays[0], dtype=np.float64), fmt)
    dx = _to_last(np.zeros(out_shape), fmt).copy()
    for pos, window in _ref_pool_windows(dx.shape[1:-1], attrs):
        index = (slice(None), *window, slice(None))
        size = math.prod(w.stop - w.start for w in window)
        dx[index] += g[(slice(None), *pos)].reshape(
            (g.shape[0],) + (1,) * len(window) + (g.shape[-1],)) / size
    return _from_last(dx, fmt).astype(out_dtype)


MAX_POOL_GRAD = register(Op(
    "max_pool_grad", KERNEL, _max_pool_grad_infer, _ref_max_pool_grad,
    kernel=_max_pool_grad_kernel, extra={"tier0": _max_pool_grad_tier0},
    doc="max pooling's input gradient: g routed to each window's first maximum of x"))
MAX_POOL_GATHER = register(Op(
    "max_pool_gather", KERNEL, _max_pool_gather_infer, _ref_max_pool_gather,
    kernel=_max_pool_gather_kernel, extra={"tier0": _max_pool_gather_tier0},
    doc="input 1 read at each max-pooling window's first maximum of x (max_pool_grad's "
        "adjoint)"))
AVG_POOL_GRAD = register(Op(
    "avg_pool_grad", KERNEL, _avg_pool_grad_infer, _ref_avg_pool_grad,
    data_inputs=(0,), kernel=_avg_pool_grad_kernel, extra={"tier0": "kernel"},
    doc="average pooling's input gradient: g / count spread over each window's valid "
        "entries; input 1 gives the shape"))


def max_pool_grad(x, g, attrs):
    return _make(MAX_POOL_GRAD, (x, g), _pool_attrs(attrs, "max"))


def max_pool_gather(x, h, attrs):
    return _make(MAX_POOL_GATHER, (x, h), _pool_attrs(attrs, "max"))


def avg_pool_grad(g, x, attrs):
    return _make(AVG_POOL_GRAD, (g, x), _pool_attrs(attrs, "avg"))


# -- gradient rules ----------------------------------------------------------------------------
def _zeros_like(x):
    from .gradutil import zeros_like

    return zeros_like(x)


def pool_grad(node, g):
    (x,) = node.inputs
    if node.attrs["mode"] == "max":
        return (max_pool_grad(x, g, node.attrs),)
    return (avg_pool_grad(g, x, node.attrs),)


def _max_pool_grad_grad(node, h):
    """Piecewise constant in x (the routing only changes at ties): zero; linear in g."""
    x, g = node.inputs
    return _zeros_like(x), max_pool_gather(x, h, node.attrs)


def _max_pool_gather_grad(node, h):
    x, _ = node.inputs
    return _zeros_like(x), max_pool_grad(x, h, node.attrs)


def _avg_pool_grad_grad(node, h):
    return _make(POOL, (h,), _pool_attrs(node.attrs, "avg")), None


define_grad(MAX_POOL_GRAD, _max_pool_grad_grad)
define_grad(MAX_POOL_GATHER, _max_pool_gather_grad)
define_grad(AVG_POOL_GRAD, _avg_pool_grad_grad)
define_grad(POOL, pool_grad)  # the forward op's gradient, registered with its backward ops
