"""Backward ops of the convolution ops of :mod:`symgraph.ops.conv` (pooling's are in
:mod:`symgraph.ops.pool_grad`).

Each forward op's gradient is one of these ops (or a forward op again):

==================  ==========================================  =============================
forward             d input                                     d kernel
==================  ==========================================  =============================
conv                ``conv_input_grad(g, w, x)`` (col2im)       ``conv_kernel_grad(x, g, w)``
depthwise_conv      ``depthwise_input_grad(g, w, x)``           ``depthwise_kernel_grad(x, g, w)``
conv_transpose      ``conv(g, w)``                              ``conv_kernel_grad(g, x, w)``
local_conv          ``local_input_grad(g, w, x)``               ``local_kernel_grad(x, g, w)``
==================  ==========================================  =============================

The last input of the ``*_input_grad`` / ``*_kernel_grad`` ops is read for its shape
only: a ``None`` batch (or spatial) dim is taken from it at run time, and with strides a
'valid' convolution's input size cannot be recovered from its output. Every op takes
the attrs of its forward op.

Second order: all these ops are linear in their gradient input (and bilinear in the
kernel), so their gradients are ops of this family again: e.g. ``conv_input_grad``'s
gradient with respect to ``g`` is ``conv``, and with respect to ``w`` it is
``conv_kernel_grad``.

Kernels work channels-last. ``conv``'s gradients run the SIMD direct kernels of
:mod:`symgraph.kernels.direct_conv` where :func:`symgraph.ops.conv.direct_route`
allows (the input gradient at unit strides: a correlation of the padded output gradient
with the flipped, transposed kernel). Otherwise, input gradients of
``conv``/``local_conv``: a BLAS matmul to columns, then a numba col2im scatter-add
driven by a bounds-checked ``(positions, kernel offsets)`` table of flat input indices
(-1 on padding, so no padded buffer), a few images at a time. Kernel gradients:
im2col (as the forward) transposed times ``g``. Depthwise: ``prod(k)`` vectorized passes
over strided slices. The references loop over output positions in plain NumPy instead.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..core.shapes import check_size
from ..kernels import cache
from .conv import (
    CONV,
    CONV_TRANSPOSE,
    DEPTHWISE_CONV,
    LOCAL_CONV,
    TAP_MAJOR_MAX_CHANNELS,
    _compute_dtype,
    _conv_infer,
    _depthwise_infer,
    _float_dtype,
    _from_last,
    _local_infer,
    _pad,
    _patches,
    _plan,
    _ref_pad,
    _same,
    _split,
    _to_last,
    column_chunks,
    conv_channels_last,
    direct_route,
    images_per_chunk,
)
from .registry import KERNEL, Op, define_grad, register


# -- shared helpers ----------------------------------------------------------------------------
def _check_grad_shape(g_shape, expected, what="the output gradient"):
    if g_shape is None or len(g_shape) != len(expected) or not all(
            _same(a, b) for a, b in zip(g_shape, expected)):
        raise ValueError(f"{what} has shape {g_shape}, the forward op's output has "
                         f"{tuple(expected)}")


def _offset_index(offset, dilation, out, strides):
    """Channels-last index of the entries kernel ``offset`` meets at every output
    position of a padded input."""
    return (slice(None),) + tuple(slice(a * d, a * d + (o - 1) * s + 1, s)
                                  for a, d, o, s in zip(offset, dilation, out, strides)) \
        + (slice(None),)


def _crop(buf, spatial, pads):
    index = (slice(None),) + tuple(slice(b, b + n) for n, (b, _) in zip(spatial, pads)) \
        + (slice(None),)
    return buf[index]


def _work(args, dtype):
    work = _compute_dtype(dtype)
    return [np.asarray(a).astype(work, copy=False) for a in args]


def _finish(res, fmt, out_shape, dtype):
    res = _from_last(res, fmt).astype(dtype, copy=False)
    return np.ascontiguousarray(res).reshape(out_shape)


def _conv_attrs(attrs):
    return {k: attrs[k] for k in ("rank", "strides", "padding", "data_format", "dilation")}


def _make(op, inputs, attrs):
    return inputs[0].graph.make(op, tuple(inputs), dict(attrs))


# -- conv: input gradient (col2im) and kernel gradient (im2col^T g) ----------------------------
_SOURCE = '''import numpy as np
from numba import njit


@njit(cache=CACHE, nogil=True)
def col2im(cols, table, buf):
    n_batch, positions, k, c = cols.shape
    for n in range(n_batch):
        for p in range(positions):
            for j in range(k):
                row = table[p, j]
                if row < 0:
                    continue
                for ch in range(c):
                    buf[n, row, ch] += cols[n, p, j, ch]
'''


def window_table(spatial, out, ksize, strides, dilation, pads):
    """``(P, K)`` int64: the flat index in the (unpadded) ``spatial`` grid that kernel
    offset k (row-major) meets at output position p (row-major), or -1 on padding."""
    rank = len(out)
    table = np.zeros((1,) * (2 * rank), dtype=np.int64)
    outside = np.zeros((1,) * (2 * rank), dtype=bool)
    step = 1
    for d in reversed(range(rank)):
        coord = (np.arange(out[d], dtype=np.int64)[:, None] * strides[d]
                 + np.arange(ksize[d], dtype=np.int64)[None, :] * dilation[d] - pads[d][0])
        shape = [1] * (2 * rank)
        shape[d], shape[rank + d] = out[d], ksize[d]
        table = table + coord.reshape(shape) * step
        outside = outside | ((coord < 0) | (coord >= spatial[d])).reshape(shape)
        step *= spatial[d]
    table = np.where(outside, -1, table)
    return table.reshape(math.prod(out), math.prod(ksize))


def _kernels():
    return cache.load(_SOURCE)


def _checked_table(spatial, out, ksize, strides, dilation, pads):
    table = window_table(spatial, out, ksize, strides, dilation, pads)
    if table.size and (table.min() < -1 or table.max() >= math.prod(spatial)):
        raise ValueError(f"windows of output {tuple(out)} fall outside {tuple(spatial)}")
    return table


def col2im(cols, spatial, out, ksize, strides, dilation, pads):
    """Scatter-add ``cols`` (N, P, K, C) into zeros (N, *spatial, C): column ``(p, k)``
    lands where kernel offset k meets output position p; columns on padding drop."""
    n, c = cols.shape[0], cols.shape[-1]
    check_size((n, *spatial, c))
    buf = np.zeros((n, math.prod(spatial), c), dtype=cols.dtype)
    if cols.size and buf.size:
        table = _checked_table(spatial, out, ksize, strides, dilation, pads)
        if cols.shape != (n, table.shape[0], table.shape[1], c):
            raise ValueError(f"col2im: columns of shape {cols.shape} do not fit "
                             f"{table.shape}")
        _kernels().col2im(np.ascontiguousarray(cols), table, buf)
    return buf.reshape(n, *spatial, c)


def col2im_strided(cols, spatial, out, ksize, strides, dilation, pads):
    """:func:`col2im` without a compiled kernel (tier 0, runtime.tiered): per kernel
    offset, one strided add of its columns into a padded buffer, then a crop."""
    n, c = cols.shape[0], cols.shape[-1]
    padded = [size + before + after for size, (before, after) in zip(spatial, pads)]
    buf = np.zeros((n, *padded, c), dtype=cols.dtype)
    if cols.size and buf.size:
        cols = cols.reshape(n, *out, math.prod(ksize), c)
        for k, offset in enumerate(np.ndindex(*ksize)):
            index = (slice(None),) + tuple(
                slice(a * d, a * d + (o - 1) * st + 1, st)
                for a, d, o, st in zip(offset, dilation, out, strides))
            buf[index] += cols[..., k, :]
    crop = (slice(None),) + tuple(slice(before, before + size)
                                  for size, (before, _) in zip(spatial, pads))
    return np.ascontiguousarray(buf[crop])


def conv_input_grad_channels_last(g, w, x_spatial, strides, padding, dilation,
                                  scatter=None):
    """``dx`` (N, *x_spatial, C) of a correlation with ``w`` (*k, C, O) given ``g``
    (N, *out, O): a matmul to columns (images*P, K*C) and their col2im (the compiled
    one, or ``scatter``, e.g. :func:`col2im_strided`), a few images at a time
    (``conv.COLUMN_CHUNK_BYTES``), so the columns are scattered while in cache."""
    rank = g.ndim - 2
    ksize, (c, o) = w.shape[:rank], w.shape[-2:]
    n = g.shape[0]
    x_spatial = tuple(x_spatial)
    out, pads = _plan(x_spatial, ksize, strides, dilation, padding)
    if tuple(out) != g.shape[1:-1]:
        raise ValueError(f"the output gradient's spatial shape {g.shape[1:-1]} does not "
                         f"match the convolution's {tuple(out)}")
    kprod = math.prod(ksize)
    if g.size == 0 or c == 0 or kprod == 0:
        return np.zeros((n, *x_spatial, c), dtype=g.dtype)
    if all(s == 1 for s in strides) and _direct_input_grad_pays(g, ksize, dilation, c):
        if scatter is None and o > TAP_MAJOR_MAX_CHANNELS and direct_route(g.dtype, rank, c):
            return _input_grad_direct(g, w, x_spatial, pads, dilation)
        if scatter is not None:  # tier 0: the same correlation by im2col (resblock's
            # 32x32x16 'same' layer: 21 -> 6.8 ms against the strided col2im)
            return _input_grad_direct(g, w, x_spatial, pads, dilation, compiled=False)
    wt = w.reshape(kprod, c, o).transpose(2, 0, 1).reshape(o, kprod * c)
    per_image = math.prod(out)
    check_size((n, *x_spatial, c))
    dx = np.zeros((n, math.prod(x_spatial), c), dtype=g.dtype)
    table = None if scatter else _checked_table(x_spatial, out, ksize, strides, dilation,
                                                pads)
    step = images_per_chunk(n, per_image, kprod * c, g.itemsize)
    check_size((step * per_image, kprod * c))
    buf = np.empty((step * per_image, kprod * c), dtype=g.dtype)
    g_rows = g.reshape(n * per_image, o)
    kernels = None if scatter else _kernels()
    for start in range(0, n, step):
        stop = min(n, start + step)
        cols = buf[:(stop - start) * per_image]
        np.matmul(g_rows[start * per_image:stop * per_image], wt, out=cols)
        cols = cols.reshape(stop - start, per_image, kprod, c)
        if scatter is None:
            kernels.col2im(cols, table, dx[start:stop])
        else:
            dx[start:stop] = scatter(cols, x_spatial, out, ksize, strides, dilation,
                                     pads).reshape(stop - start, -1, c)
    return dx.reshape(n, *x_spatial, c)


#: the direct input gradient copies the output gradient into a padded buffer; where
#: that grows it by more than this (and the result is wide), col2im is faster
#: (bench_conv.py, 24x24x64 -> 26x26x32: padded by 36 %, direct 18.6 ms vs col2im
#: 17.3; 32x32x16 'same', padded by 13 %: 3.7 vs 6.2 ms; 1-D 96x128 -> 100x64: 5.3 vs 6.0)
DIRECT_INPUT_GRAD_MAX_GROWTH = 1.25


def _direct_input_grad_pays(g, ksize, dilation, in_channels: int) -> bool:
    padded = math.prod(n + 2 * (k - 1) * d for n, k, d in zip(g.shape[1:-1], ksize, dilation))
    return in_channels < 32 or padded <= DIRECT_INPUT_GRAD_MAX_GROWTH * math.prod(g.shape[1:-1])


def _input_grad_direct(g, w, x_spatial, pads, dilation, compiled: bool = True):
    """``dx`` of a unit-stride correlation: the full correlation of ``g`` (padded by
    the kernel's reach less the forward padding on each side) with the kernel flipped
    along its spatial dims and its channel axes swapped. Forward pads never exceed the
    reach ``(k - 1) * d`` ('same', 'valid', 'causal'), so the new pads are >= 0.
    ``compiled``: by the direct SIMD kernel, else by im2col (nothing to compile)."""
    rank = g.ndim - 2
    ksize = w.shape[:rank]
    reach = [(k - 1) * d for k, d in zip(ksize, dilation)]
    gpads = [(r - before, r - after) for r, (before, after) in zip(reach, pads)]
    if min(min(p) for p in gpads) < 0:
        raise ValueError(f"padding {pads} exceeds the kernel's reach {reach}")
    flipped = np.ascontiguousarray(w[(slice(None, None, -1),) * rank].swapaxes(-1, -2))
    if not compiled:
        return conv_channels_last(_pad(g, gpads), flipped, (1,) * rank, "valid", dilation,
                                  direct=False)
    from ..kernels import direct_conv  # numba: imported on first use

    return direct_conv.correlate(_pad(g, gpads), flipped, tuple(x_spatial), (1,) * rank,
                                 dilation)


def conv_kernel_grad_channels_last(x, g, ksize, strides, padding, dilation,
                                   direct: bool = True):
    """``dw`` (*k, C, O): the direct SIMD kernel where :func:`direct_route` allows and
    ``direct`` is set (tier 0 clears it: it would compile), else im2col(x)^T @ g,
    summed over groups of images in order."""
    c, o = x.shape[-1], g.shape[-1]
    out, pads = _plan(x.shape[1:-1], ksize, strides, dilation, padding)
    if tuple(out) != g.shape[1:-1]:
        raise ValueError(f"the output gradient's spatial shape {g.shape[1:-1]} does not "
                         f"match the convolution's {tuple(out)}")
    kprod = math.prod(ksize)
    if g.size == 0 or c == 0 or kprod == 0:
        return np.zeros((*ksize, c, o), dtype=x.dtype)
    if direct and direct_route(x.dtype, len(ksize), o):
        from ..kernels import direct_conv  # numba: imported on first use

        return direct_conv.kernel_gradient(_pad(x, pads), g, ksize, strides, dilation)
    per_image = math.prod(out)
    g_rows = g.reshape(g.shape[0] * per_image, o)
    dw = np.zeros((kprod * c, o), dtype=x.dtype)
    part = np.empty_like(dw)
    for start, stop, cols in column_chunks(_patches(_pad(x, pads), ksize, strides,
                                                    dilation, out)):
        # groups add up in a fixed order
        dw += np.matmul(cols.T, g_rows[start * per_image:stop * per_image], out=part)
    return dw.reshape(*ksize, c, o)


def _grad_infers(forward_infer):
    """Shape rules of a convolution's input gradient ``(g, w, x) -> x's shape`` and
    kernel gradient ``(x, g, w) -> w's shape``: ``g`` must have the forward output's
    shape (the last input is read for its shape only)."""
    def check(x, w, g, in_dtypes, attrs):
        dtype = _float_dtype(list(in_dtypes[:2]), "convolution gradient")
        y, _ = forward_infer([x, w], [dtype, dtype], attrs)
        _check_grad_shape(g, y)
        return dtype

    def input_grad(in_shapes, in_dtypes, attrs):
        g, w, x = in_shapes
        return tuple(x), check(x, w, g, in_dtypes, attrs)

    def kernel_grad(in_shapes, in_dtypes, attrs):
        x, g, w = in_shapes
        return tuple(w), check(x, w, g, in_dtypes, attrs)

    return input_grad, kernel_grad


_conv_input_grad_infer, _conv_kernel_grad_infer = _grad_infers(_conv_infer)


def _conv_input_grad_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    fmt = attrs["data_format"]
    g, w = _work(args[:2], out_dtype)
    res = conv_input_grad_channels_last(_to_last(g, fmt), w, _split(out_shape, fmt)[1],
                                        attrs["strides"], attrs["padding"], attrs["dilation"])
    return _finish(res, fmt, out_shape, out_dtype)


def _conv_input_grad_tier0(args, in_shapes, attrs, out_shape, out_dtype):
    """The kernel with NumPy's strided adds for col2im: nothing to compile."""
    fmt = attrs["data_format"]
    g, w = _work(args[:2], out_dtype)
    res = conv_input_grad_channels_last(_to_last(g, fmt), w, _split(out_shape, fmt)[1],
                                        attrs["strides"], attrs["padding"], attrs["dilation"],
                                        scatter=col2im_strided)
    return _finish(res, fmt, out_shape, out_dtype)


def _conv_kernel_grad_kernel(args, in_shapes, attrs, out_shape, out_dtype,
                             direct: bool = True):
    fmt = attrs["data_format"]
    x, g = _work(args[:2], out_dtype)
    rank = attrs["rank"]
    res = conv_kernel_grad_channels_last(_to_last(x, fmt), _to_last(g, fmt),
                                         tuple(out_shape[:rank]), attrs["strides"],
                                         attrs["padding"], attrs["dilation"], direct=direct)
    return res.astype(out_dtype, copy=False).reshape(out_shape)


def _conv_kernel_grad_tier0(args, in_shapes, attrs, out_shape, out_dtype):
    """The kernel gradient by im2col: nothing to compile (``runtime.tiered``)."""
    return _conv_kernel_grad_kernel(args, in_shapes, attrs, out_shape, out_dtype,
                                    direct=False)


def _windows(spatial, ksize, strides, dilation, padding):
    """``(pads, [(output position, window slices in the padded input)])``."""
    out, pads = _plan(spatial, ksize, strides, dilation, padding)
    rows = []
    for pos in np.ndindex(*out):
        rows.append((pos, tuple(slice(i * s, i * s + d * (k - 1) + 1, d)
                                for i, s, k, d in zip(pos, strides, ksize, dilation))))
    return pads, rows


def _ref_conv_input_grad(arrays, attrs, out_shape, out_dtype):
    """Per output position: add ``w @ g[pos]`` into that position's window."""
    fmt = attrs["data_format"]
    g, w = (np.asarray(a, dtype=np.float64) for a in arrays[:2])
    g = _to_last(g, fmt)
    rank = attrs["rank"]
    spatial = _split(out_shape, fmt)[1]
    pads, rows = _windows(spatial, w.shape[:rank], attrs["strides"], attrs["dilation"],
                          attrs["padding"])
    buf = _ref_pad(np.zeros((g.shape[0], *spatial, w.shape[-2])), pads)
    for pos, window in rows:
        buf[(slice(None), *window, slice(None))] += np.tensordot(
            g[(slice(None), *pos)], w, axes=([1], [rank + 1]))
    return _from_last(_crop(buf, spatial, pads), fmt).astype(out_dtype)


def _ref_conv_kernel_grad(arrays, attrs, out_shape, out_dtype):
    """Per output position: add the outer product of its window and ``g[pos]``."""
    fmt = attrs["data_format"]
    x, g = (_to_last(np.asarray(a, dtype=np.float64), fmt) for a in arrays[:2])
    rank = attrs["rank"]
    ksize = tuple(out_shape[:rank])
    pads, rows = _windows(x.shape[1:-1], ksize, attrs["strides"], attrs["dilation"],
                          attrs["padding"])
    xp = _ref_pad(x, pads)
    dw = np.zeros(out_shape)
    for pos, window in rows:
        dw += np.tensordot(xp[(slice(None), *window, slice(None))], g[(slice(None), *pos)],
                           axes=([0], [0]))
    return dw.astype(out_dtype)


CONV_INPUT_GRAD = register(Op(
    "conv_input_grad", KERNEL, _conv_input_grad_infer, _ref_conv_input_grad,
    data_inputs=(0, 1), kernel=_conv_input_grad_kernel,
    extra={"tier0": _conv_input_grad_tier0},
    doc="conv's input gradient from g and the kernel (col2im); input 2 gives the shape"))
CONV_KERNEL_GRAD = register(Op(
    "conv_kernel_grad", KERNEL, _conv_kernel_grad_infer, _ref_conv_kernel_grad,
    data_inputs=(0, 1), kernel=_conv_kernel_grad_kernel,
    extra={"tier0": _conv_kernel_grad_tier0},
    doc="conv's kernel gradient from x and g (im2col^T g); input 2 gives the shape"))


def conv_input_grad(g, w, x, attrs):
    return _make(CONV_INPUT_GRAD, (g, w, x), _conv_attrs(attrs))


def conv_kernel_grad(x, g, w, attrs):
    return _make(CONV_KERNEL_GRAD, (x, g, w), _conv_attrs(attrs))


# -- depthwise conv ----------------------------------------------------------------------------
def depthwise_input_grad_channels_last(g, w, x_spatial, strides, padding, dilation):
    """``dx`` of a depthwise correlation: per kernel offset, the channel sums of
    ``g * w[offset]`` added into the offset's strided slice."""
    rank = g.ndim - 2
    ksize, (c, m) = w.shape[:rank], w.shape[-2:]
    out, pads = _plan(tuple(x_spatial), ksize, strides, dilation, padding)
    n = g.shape[0]
    padded = tuple(s + b + a for s, (b, a) in zip(x_spatial, pads))
    buf = np.zeros((n, *padded, c), dtype=g.dtype)
    if buf.size and g.size:
        g4 = g.reshape(n, *out, c, m)
        for offset in itertools.product(*(range(k) for k in ksize)):
            index = _offset_index(offset, dilation, out, strides)
            if m == 1:
                buf[index] += g4[..., 0] * w[offset][:, 0]
            else:
                buf[index] += np.einsum("...cm,cm->...c", g4, w[offset])
    return _crop(buf, x_spatial, pads)


def depthwise_kernel_grad_channels_last(x, g, ksize, strides, padding, dilation):
    """``dw`` (*k, C, M): per kernel offset, the batch-and-position sums of the offset's
    strided slice of ``x`` times ``g``."""
    c = x.shape[-1]
    m = g.shape[-1] // c if c else 0
    out, pads = _plan(x.shape[1:-1], ksize, strides, dilation, padding)
    dw = np.zeros((*ksize, c, m), dtype=x.dtype)
    if g.size == 0 or dw.size == 0:
        return dw
    xp = _pad(x, pads)
    g4 = g.reshape(-1, c, m)
    for offset in itertools.product(*(range(k) for k in ksize)):
        part = xp[_offset_index(offset, dilation, out, strides)].reshape(-1, c)
        dw[offset] = np.einsum("rc,rcm->cm", part, g4)
    return dw


_depthwise_input_grad_infer, _depthwise_kernel_grad_infer = _grad_infers(_depthwise_infer)


def _depthwise_input_grad_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    fmt = attrs["data_format"]
    g, w = _work(args[:2], out_dtype)
    res = depthwise_input_grad_channels_last(_to_last(g, fmt), w, _split(out_shape, fmt)[1],
                                             attrs["strides"], attrs["padding"],
                                             attrs["dilation"])
    return _finish(res, fmt, out_shape, out_dtype)


def _depthwise_kernel_grad_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    fmt = attrs["data_format"]
    x, g = _work(args[:2], out_dtype)
    res = depthwise_kernel_grad_channels_last(_to_last(x, fmt), _to_last(g, fmt),
                                              tuple(out_shape[:attrs["rank"]]),
                                              attrs["strides"], attrs["padding"],
                                              attrs["dilation"])
    return res.astype(out_dtype, copy=False).reshape(out_shape)


def _ref_depthwise_input_grad(arrays, attrs, out_shape, out_dtype):
    fmt = attrs["data_format"]
    g, w = (np.asarray(a, dtype=np.float64) for a in arrays[:2])
    g = _to_last(g, fmt)
    rank = attrs["rank"]
    c, m = w.shape[-2:]
    spatial = _split(out_shape, fmt)[1]
    pads, rows = _windows(spatial, w.shape[:rank], attrs["strides"], attrs["dilation"],
                          attrs["padding"])
    buf = _ref_pad(np.zeros((g.shape[0], *spatial, c)), pads)
    for pos, window in rows:
        gp = g[(slice(None), *pos)].reshape(-1, c, m)  # (N, C, M)
        buf[(slice(None), *window, slice(None))] += (
            gp.reshape((gp.shape[0],) + (1,) * rank + (c, m)) * w).sum(axis=-1)
    return _from_last(_crop(buf, spatial, pads), fmt).astype(out_dtype)


def _ref_depthwise_kernel_grad(arrays, attrs, out_shape, out_dtype):
    fmt = attrs["data_format"]
    x, g = (_to_last(np.asarray(a, dtype=np.float64), fmt) for a in arrays[:2])
    rank = attrs["rank"]
    ksize, (c, m) = tuple(out_shape[:rank]), out_shape[-2:]
    pads, rows = _windows(x.shape[1:-1], ksize, attrs["strides"], attrs["dilation"],
                          attrs["padding"])
    xp = _ref_pad(x, pads)
    dw = np.zeros(out_shape)
    for pos, window in rows:
        block = xp[(slice(None), *window, slice(None))]  # (N, *k, C)
        gp = g[(slice(None), *pos)].reshape(-1, 1, c, m)  # (N, 1, C, M)
        flat = block.reshape(block.shape[0], -1, c)[..., None] * gp  # (N, K, C, M)
        dw += flat.sum(axis=0).reshape(out_shape)
    return dw.astype(out_dtype)


DEPTHWISE_INPUT_GRAD = register(Op(
    "depthwise_input_grad", KERNEL, _depthwise_input_grad_infer, _ref_depthwise_input_grad,
    data_inputs=(0, 1), kernel=_depthwise_input_grad_kernel,
    doc="depthwise_conv's input gradient from g and the kernel; input 2 gives the shape"))
DEPTHWISE_KERNEL_GRAD = register(Op(
    "depthwise_kernel_grad", KERNEL, _depthwise_kernel_grad_infer, _ref_depthwise_kernel_grad,
    data_inputs=(0, 1), kernel=_depthwise_kernel_grad_kernel,
    doc="depthwise_conv's kernel gradient from x and g; input 2 gives the shape"))


def depthwise_input_grad(g, w, x, attrs):
    return _make(DEPTHWISE_INPUT_GRAD, (g, w, x), _conv_attrs(attrs))


def depthwise_kernel_grad(x, g, w, attrs):
    return _make(DEPTHWISE_KERNEL_GRAD, (x, g, w), _conv_attrs(attrs))


# -- local (unshared) conv ---------------------------------------------------------------------
def _local_attrs(attrs):
    return {k: attrs[k] for k in ("rank", "kernel_size", "strides", "output_shape",
                                  "data_format")}


def local_input_grad_channels_last(g, w, x_spatial, ksize, strides, out, fmt):
    """``dx``: per position the patch gradient ``g[p] @ w[p]^T`` (one batched matmul),
    scattered back by col2im (no padding, unit dilation)."""
    rank = g.ndim - 2
    n, o = g.shape[0], g.shape[-1]
    c = w.shape[1] // math.prod(ksize) if math.prod(ksize) else 0
    positions = math.prod(out)
    if n * c * positions * math.prod(x_spatial) == 0:
        return np.zeros((n, *x_spatial, c), dtype=g.dtype)
    gp = g.reshape(n, positions, o).transpose(1, 0, 2)  # (P, N, O)
    cols = np.matmul(gp, w.transpose(0, 2, 1))  # (P, N, F)
    kprod = math.prod(ksize)
    if fmt == "channels_first":  # patch order (C, *k)
        cols = np.swapaxes(cols.reshape(positions, n, c, kprod), 2, 3)
    cols = cols.reshape(positions, n, kprod, c).transpose(1, 0, 2, 3)  # (N, P, K, C)
    return col2im(cols, tuple(x_spatial), out, ksize, strides, (1,) * rank,
                  ((0, 0),) * rank)


def local_kernel_grad_channels_last(x, g, ksize, strides, out, fmt):
    """``dw`` (P, F, O): per position, the patch matrix transposed times ``g``."""
    rank = x.ndim - 2
    n, c, o = x.shape[0], x.shape[-1], g.shape[-1]
    positions = math.prod(out)
    features = math.prod(ksize) * c
    if positions == 0 or n == 0 or features == 0 or o == 0:
        return np.zeros((positions, features, o), dtype=x.dtype)
    win = _patches(x, ksize, strides, (1,) * rank, out)  # (N, *out, *k, C)
    if fmt == "channels_first":
        win = np.moveaxis(win, -1, rank + 1)
    cols = win.reshape(n, positions, features).transpose(1, 2, 0)  # (P, F, N)
    gp = g.reshape(n, positions, o).transpose(1, 0, 2)  # (P, N, O)
    return np.matmul(cols, gp)


_local_input_grad_infer, _local_kernel_grad_infer = _grad_infers(_local_infer)


def _local_input_grad_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    fmt = attrs["data_format"]
    g, w = _work(args[:2], out_dtype)
    res = local_input_grad_channels_last(_to_last(g, fmt), w, _split(out_shape, fmt)[1],
                                         attrs["kernel_size"], attrs["strides"],
                                         attrs["output_shape"], fmt)
    return _finish(res, fmt, out_shape, out_dtype)


def _local_kernel_grad_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    fmt = attrs["data_format"]
    x, g = _work(args[:2], out_dtype)
    res = local_kernel_grad_channels_last(_to_last(x, fmt), _to_last(g, fmt),
                                          attrs["kernel_size"], attrs["strides"],
                                          attrs["output_shape"], fmt)
    return res.astype(out_dtype, copy=False).reshape(out_shape)


def _local_window(pos, attrs, fmt):
    window = tuple(slice(i * s, i * s + k) for i, s, k in
                   zip(pos, attrs["strides"], attrs["kernel_size"]))
    return (slice(None), *window, slice(None)) if fmt == "channels_last" else \
        (slice(None), slice(None), *window)


def _ref_local_input_grad(arrays, attrs, out_shape, out_dtype):
    """Per position: ``g[:, p] @ w[p]^T`` reshaped to the window (in the input's own
    layout) and added there."""
    fmt = attrs["data_format"]
    g, w = (np.asarray(a, dtype=np.float64) for a in arrays[:2])
    g = _to_last(g, fmt)
    dx = np.zeros(out_shape)
    for p, pos in enumerate(np.ndindex(*attrs["output_shape"])):
        index = _local_window(pos, attrs, fmt)
        patch = g[(slice(None), *pos)] @ w[p].T  # (N, F)
        dx[index] += patch.reshape(dx[index].shape)
    return dx.astype(out_dtype)


def _ref_local_kernel_grad(arrays, attrs, out_shape, out_dtype):
    fmt = attrs["data_format"]
    x, g = (np.asarray(a, dtype=np.float64) for a in arrays[:2])
    g = _to_last(g, fmt)
    dw = np.zeros(out_shape)
    for p, pos in enumerate(np.ndindex(*attrs["output_shape"])):
        patch = x[_local_window(pos, attrs, fmt)].reshape(x.shape[0], -1)  # (N, F)
        dw[p] = patch.T @ g[(slice(None), *pos)]
    return dw.astype(out_dtype)


LOCAL_INPUT_GRAD = register(Op(
    "local_input_grad", KERNEL, _local_input_grad_infer, _ref_local_input_grad,
    data_inputs=(0, 1), kernel=_local_input_grad_kernel,
    doc="local_conv's input gradient from g and the kernel; input 2 gives the shape"))
LOCAL_KERNEL_GRAD = register(Op(
    "local_kernel_grad", KERNEL, _local_kernel_grad_infer, _ref_local_kernel_grad,
    data_inputs=(0, 1), kernel=_local_kernel_grad_kernel,
    doc="local_conv's kernel gradient from x and g; input 2 gives the shape"))


def local_input_grad(g, w, x, attrs):
    return _make(LOCAL_INPUT_GRAD, (g, w, x), _local_attrs(attrs))


def local_kernel_grad(x, g, w, attrs):
    return _make(LOCAL_KERNEL_GRAD, (x, g, w), _local_attrs(attrs))


# -- gradient rules ----------------------------------------------------------------------------
def conv_grad(node, g):
    x, w = node.inputs
    return conv_input_grad(g, w, x, node.attrs), conv_kernel_grad(x, g, w, node.attrs)


def conv_transpose_grad(node, g):
    """``conv_transpose(x, w)`` is ``conv_input_grad(x, w)`` of a convolution from the
    output shape: its adjoint in x is that convolution, in w its kernel gradient."""
    x, w = node.inputs[:2]  # the rest are read for their dims only
    attrs = _conv_attrs(node.attrs)
    return (_make(CONV, (g, w), attrs), conv_kernel_grad(g, x, w, attrs)) + \
        (None,) * (len(node.inputs) - 2)


def depthwise_grad(node, g):
    x, w = node.inputs
    return (depthwise_input_grad(g, w, x, node.attrs),
            depthwise_kernel_grad(x, g, w, node.attrs))


def local_grad(node, g):
    x, w = node.inputs
    return local_input_grad(g, w, x, node.attrs), local_kernel_grad(x, g, w, node.attrs)


# second order: each backward op is linear in g and w, its adjoints are ops of this family
def _conv_input_grad_grad(node, h):
    g, w, x = node.inputs
    return _make(CONV, (h, w), _conv_attrs(node.attrs)), conv_kernel_grad(h, g, w, node.attrs), \
        None


def _conv_kernel_grad_grad(node, h):
    x, g, w = node.inputs
    return conv_input_grad(g, h, x, node.attrs), _make(CONV, (x, h), _conv_attrs(node.attrs)), \
        None


def _depthwise_input_grad_grad(node, h):
    g, w, x = node.inputs
    return (_make(DEPTHWISE_CONV, (h, w), _conv_attrs(node.attrs)),
            depthwise_kernel_grad(h, g, w, node.attrs), None)


def _depthwise_kernel_grad_grad(node, h):
    x, g, w = node.inputs
    return (depthwise_input_grad(g, h, x, node.attrs),
            _make(DEPTHWISE_CONV, (x, h), _conv_attrs(node.attrs)), None)


def _local_input_grad_grad(node, h):
    g, w, x = node.inputs
    return (_make(LOCAL_CONV, (h, w), _local_attrs(node.attrs)),
            local_kernel_grad(h, g, w, node.attrs), None)


def _local_kernel_grad_grad(node, h):
    x, g, w = node.inputs
    return (local_input_grad(g, h, x, node.attrs),
            _make(LOCAL_CONV, (x, h), _local_attrs(node.attrs)), None)


define_grad(CONV_INPUT_GRAD, _conv_input_grad_grad)
define_grad(CONV_KERNEL_GRAD, _conv_kernel_grad_grad)
define_grad(DEPTHWISE_INPUT_GRAD, _depthwise_input_grad_grad)
define_grad(DEPTHWISE_KERNEL_GRAD, _depthwise_kernel_grad_grad)
define_grad(LOCAL_INPUT_GRAD, _local_input_grad_grad)
define_grad(LOCAL_KERNEL_GRAD, _local_kernel_grad_grad)

# the forward ops' gradients: registered here, where their backward ops are defined
define_grad(CONV, conv_grad)
define_grad(DEPTHWISE_CONV, depthwise_grad)
define_grad(CONV_TRANSPOSE, conv_transpose_grad)
define_grad(LOCAL_CONV, local_grad)
