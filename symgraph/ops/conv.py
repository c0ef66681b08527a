"""Convolution ops: ``conv``, ``depthwise_conv``, ``conv_transpose`` and ``local_conv``,
each for 1, 2 or 3 spatial dims and both data formats (pooling: :mod:`symgraph.ops.pool`).

Route (chosen by ``benchmarks/bench_conv.py``): float32 convolutions of 1 or 2 spatial
dims with at least 8 output channels run SIMD direct kernels
(:mod:`symgraph.kernels.direct_conv`: register tiles of pixels x output channels, no
patch matrix) for the forward pass (from 2 input channels) and both gradients (the
input gradient at unit strides). Otherwise the input is padded once, its patches are
gathered with ``sliding_window_view`` (a bounds-checked NumPy view, so nothing can
read outside the buffer) and copied, a few images at a time (``COLUMN_CHUNK_BYTES``),
into an ``(images*positions, prod(k)*C)`` matrix, and a BLAS matmul against the kernel
per group does the work (im2col). Inputs with at most three
channels build the transposed, tap-major matrix instead: one long strided slice copy
per kernel offset and channel. The transposed convolution runs
the same in reverse: one matmul, then a strided scatter-add of the columns (col2im).
Depthwise convolution is ``prod(k)`` vectorized passes over strided slices.

Dtypes: float16, float32 and float64; x and the kernel must have the same one (TF
raises on mixed dtypes too). float16 is computed in float32 and rounded back. Integer
and bool tensors are rejected with ``TypeError`` (cast them with ``K.cast`` first).

Each op has an independent NumPy ``reference``: per-kernel-offset ``tensordot``
accumulation (no im2col), a flipped-kernel correlation of the stride-dilated input for
the transposed convolution, and per-window loops for local convolution.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..core.shapes import check_size
from .registry import KERNEL, Op, register

PADDINGS = ("valid", "same", "causal")
DATA_FORMATS = ("channels_last", "channels_first")
FLOAT_DTYPES = ("float16", "float32", "float64")


# -- shape rules --------------------------------------------------------------------------
def window_output(n, k, stride, dilation, padding):
    """``(out, pad_before, pad_after)`` of one spatial dim (TF's rules); ``None``s when
    ``n`` or ``k`` is unknown. Raises ValueError when a 'valid' window does not fit."""
    if n is None or k is None:
        return None, None, None
    eff = dilation * (k - 1) + 1
    if padding == "valid":
        if n < eff:
            raise ValueError(f"the window ({eff} with dilation) is larger than the input "
                             f"({n}) with 'valid' padding")
        return (n - eff) // stride + 1, 0, 0
    if padding == "causal":
        return -(-n // stride) if n else 0, eff - 1, 0
    if padding != "same":
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    out = -(-n // stride)
    total = max((out - 1) * stride + eff - n, 0)
    return out, total // 2, total - total // 2


def _float_dtype(in_dtypes, what: str) -> str:
    for d in in_dtypes:
        if d not in FLOAT_DTYPES:
            raise TypeError(f"{what} takes float16, float32 or float64 tensors, got {d} "
                            "(cast with K.cast first)")
    if len(set(in_dtypes)) > 1:
        raise TypeError(f"the input and kernel dtypes differ: {' vs '.join(in_dtypes)}")
    return in_dtypes[0]


def _split(shape, data_format):
    """``(batch, spatial dims, channels)`` of a shape in ``data_format``."""
    if data_format == "channels_last":
        return shape[0], tuple(shape[1:-1]), shape[-1]
    return shape[0], tuple(shape[2:]), shape[1]


def _join(batch, spatial, channels, data_format):
    if data_format == "channels_last":
        return (batch, *spatial, channels)
    return (batch, channels, *spatial)


def _check_common(x_shape, attrs):
    rank = attrs["rank"]
    if attrs["data_format"] not in DATA_FORMATS:
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got "
                         f"{attrs['data_format']!r}")
    if x_shape is None or len(x_shape) != rank + 2:
        got = "unknown rank" if x_shape is None else f"rank {len(x_shape)}"
        raise ValueError(f"the input must have rank {rank + 2} (batch, {rank} spatial "
                         f"dims, channels), got {got}")
    for key in ("strides", "dilation", "pool_size", "kernel_size"):
        value = attrs.get(key)
        if value is not None and (len(value) != rank or min(value) < 1):
            raise ValueError(f"{key} must hold {rank} ints >= 1, got {value}")


def _check_kernel_rank(k_shape, rank, what):
    if k_shape is None or len(k_shape) != rank + 2:
        got = "unknown rank" if k_shape is None else f"rank {len(k_shape)}"
        raise ValueError(f"the {what} must have rank {rank + 2}, got {got}")


def _same(a, b):
    return a is None or b is None or a == b


def _conv_infer(in_shapes, in_dtypes, attrs):
    x_shape, k_shape = in_shapes
    rank, fmt = attrs["rank"], attrs["data_format"]
    _check_common(x_shape, attrs)
    _check_kernel_rank(k_shape, rank, "kernel")
    dtype = _float_dtype(in_dtypes, "convolution")
    if attrs["padding"] == "causal" and (rank != 1 or fmt != "channels_last"):
        raise ValueError("'causal' padding is for 1-D channels_last convolution only")
    if attrs["padding"] not in PADDINGS:
        raise ValueError(f"padding must be 'valid' or 'same', got {attrs['padding']!r}")
    batch, spatial, channels = _split(x_shape, fmt)
    if not _same(channels, k_shape[-2]):
        raise ValueError(f"the input has {channels} channels but the kernel expects "
                         f"{k_shape[-2]} (kernel layout: (k..., in, out))")
    out = tuple(window_output(n, k, s, d, attrs["padding"])[0] for n, k, s, d in
                zip(spatial, k_shape[:rank], attrs["strides"], attrs["dilation"]))
    shape = _join(batch, out, k_shape[-1], fmt)
    check_size(shape)
    return shape, dtype


def _depthwise_infer(in_shapes, in_dtypes, attrs):
    x_shape, k_shape = in_shapes
    rank, fmt = attrs["rank"], attrs["data_format"]
    _check_common(x_shape, attrs)
    _check_kernel_rank(k_shape, rank, "depthwise kernel")
    dtype = _float_dtype(in_dtypes, "convolution")
    if attrs["padding"] not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {attrs['padding']!r}")
    batch, spatial, channels = _split(x_shape, fmt)
    if not _same(channels, k_shape[-2]):
        raise ValueError(f"the input has {channels} channels but the depthwise kernel "
                         f"expects {k_shape[-2]} (kernel layout: (k..., in, multiplier))")
    channels = channels if channels is not None else k_shape[-2]
    out = tuple(window_output(n, k, s, d, attrs["padding"])[0] for n, k, s, d in
                zip(spatial, k_shape[:rank], attrs["strides"], attrs["dilation"]))
    out_ch = None if channels is None or k_shape[-1] is None else channels * k_shape[-1]
    shape = _join(batch, out, out_ch, fmt)
    check_size(shape)
    return shape, dtype


def _transpose_infer(in_shapes, in_dtypes, attrs):
    x_shape, k_shape = in_shapes[:2]  # the rest are read for their dims (output_shape)
    rank, fmt = attrs["rank"], attrs["data_format"]
    _check_common(x_shape, attrs)
    _check_kernel_rank(k_shape, rank, "kernel")
    dtype = _float_dtype(in_dtypes[:2], "convolution")
    if attrs["padding"] not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {attrs['padding']!r}")
    from .shape import resolve_target

    target = tuple(resolve_target(attrs["output_shape"], in_shapes))
    if len(target) != rank + 2:
        raise ValueError(f"output_shape {target} must have {rank + 2} entries "
                         f"(batch, {rank} spatial dims, channels in {fmt} order)")
    batch, spatial, channels = _split(x_shape, fmt)
    t_batch, t_spatial, t_channels = _split(target, fmt)
    if not _same(channels, k_shape[-1]):
        raise ValueError(f"the input has {channels} channels but the kernel expects "
                         f"{k_shape[-1]} (transpose kernel layout: (k..., out, in))")
    if not _same(t_channels, k_shape[-2]):
        raise ValueError(f"output_shape has {t_channels} channels but the kernel makes "
                         f"{k_shape[-2]}")
    if not _same(t_batch, batch):
        raise ValueError(f"output_shape's batch {t_batch} differs from the input's {batch}")
    for i, (o, n, k, s, d) in enumerate(zip(t_spatial, spatial, k_shape[:rank],
                                            attrs["strides"], attrs["dilation"])):
        if o is None:
            continue  # computed from a dim known at run time: checked then
        try:
            fwd = window_output(o, k, s, d, attrs["padding"])[0]
        except ValueError as exc:
            raise ValueError(f"output_shape spatial dim {i} ({o}): {exc}") from None
        if not _same(fwd, n):
            raise ValueError(f"output_shape {target} is not reachable: a convolution of "
                             f"spatial size {o} with kernel {k}, stride {s} and "
                             f"'{attrs['padding']}' padding gives {fwd}, but the input has "
                             f"{n} (dim {i})")
    shape = _join(t_batch if t_batch is not None else batch, t_spatial,
                  t_channels if t_channels is not None else k_shape[-2], fmt)
    check_size(shape)
    return shape, dtype


def _local_infer(in_shapes, in_dtypes, attrs):
    x_shape, k_shape = in_shapes
    fmt = attrs["data_format"]
    _check_common(x_shape, attrs)
    dtype = _float_dtype(in_dtypes, "convolution")
    if len(attrs["output_shape"]) != attrs["rank"] or min(attrs["output_shape"]) < 0:
        raise ValueError(f"output_shape must hold {attrs['rank']} sizes >= 0")
    if k_shape is None or len(k_shape) != 3:
        raise ValueError("the kernel must have rank 3 (positions, prod(kernel_size)*in, out)")
    batch, spatial, channels = _split(x_shape, fmt)
    out = attrs["output_shape"]
    positions = math.prod(out)
    if not _same(k_shape[0], positions):
        raise ValueError(f"the kernel has {k_shape[0]} positions, output_shape {out} "
                         f"needs {positions}")
    feature = None if channels is None else math.prod(attrs["kernel_size"]) * channels
    if not _same(k_shape[1], feature):
        raise ValueError(f"the kernel's patch size {k_shape[1]} is not prod(kernel_size)*in = "
                         f"{feature}")
    for i, (n, o, k, s) in enumerate(zip(spatial, out, attrs["kernel_size"],
                                         attrs["strides"])):
        if n is not None and o > 0 and (o - 1) * s + k > n:
            raise ValueError(f"output_shape {out} needs spatial dim {i} of at least "
                             f"{(o - 1) * s + k}, the input has {n}")
    shape = _join(batch, out, k_shape[2], fmt)
    check_size(shape)
    return shape, dtype


# -- kernels (im2col + BLAS) ----------------------------------------------------------------
def _to_last(a, fmt):
    return a if fmt == "channels_last" else np.moveaxis(a, 1, -1)


def _from_last(a, fmt):
    return a if fmt == "channels_last" else np.ascontiguousarray(np.moveaxis(a, -1, 1))


def _compute_dtype(dtype):
    return np.float32 if np.dtype(dtype) == np.float16 else np.dtype(dtype)


def _pad(x, pads, value=0.0):
    """Pad the spatial dims of a channels-last array: ``pads`` = ((before, after), ...)."""
    if not any(b or a for b, a in pads):
        return x
    shape = (x.shape[0],) + tuple(n + b + a for n, (b, a) in zip(x.shape[1:-1], pads)) \
        + (x.shape[-1],)
    check_size(shape)  # a huge dilation must not turn into a huge allocation
    out = np.full(shape, value, dtype=x.dtype)
    inner = (slice(None),) + tuple(slice(b, b + n) for n, (b, _) in
                                   zip(x.shape[1:-1], pads)) + (slice(None),)
    out[inner] = x
    return out


def _plan(spatial, ksize, strides, dilation, padding):
    rows = [window_output(n, k, s, d, padding) for n, k, s, d in
            zip(spatial, ksize, strides, dilation)]
    return tuple(r[0] for r in rows), tuple((r[1], r[2]) for r in rows)


def _patches(xp, ksize, strides, dilation, out):
    """``(N, *out, *k, C)`` view of the windows of padded channels-last ``xp``."""
    rank = len(ksize)
    eff = tuple(d * (k - 1) + 1 for k, d in zip(ksize, dilation))
    win = sliding_window_view(xp, eff, axis=tuple(range(1, rank + 1)))  # (N,*nwin,C,*eff)
    index = ((slice(None),) + tuple(slice(0, o * s, s) for o, s in zip(out, strides))
             + (slice(None),) + tuple(slice(None, None, d) for d in dilation))
    win = win[index]
    perm = (0, *range(1, rank + 1), *range(rank + 2, 2 * rank + 2), rank + 1)
    return win.transpose(perm)


def direct_route(dtype, rank: int, out_channels: int) -> bool:
    """Whether a convolution of this dtype, rank and output width runs the SIMD direct
    kernels (``kernels.direct_conv``) rather than im2col: float32, 1 or 2 spatial dims,
    at least ``DIRECT_MIN_CHANNELS`` outputs (narrower ones waste most vector lanes)."""
    return np.dtype(dtype) == np.float32 and rank in (1, 2) and \
        out_channels >= DIRECT_MIN_CHANNELS


#: output channels below which the direct kernels' 16-lane tiles waste too many lanes
DIRECT_MIN_CHANNELS = 8


def conv_channels_last(x, w, strides, padding, dilation, direct: bool = True):
    """Cross-correlation of channels-last ``x`` (N, *spatial, C) with ``w`` (*k, C, O):
    the direct SIMD kernel where :func:`direct_route` allows and ``direct`` is set
    (tier 0 clears it: the kernel would compile), else im2col + BLAS matmuls.

    ``benchmarks/bench_conv.py`` (one thread, batch 64): 32x32x16 -> 16 'same' 6.7 ->
    3.7 ms, 26x26x32 -> 64 17.0 -> 12.8 ms, 1-D 100x64 -> 128 (k=5) 5.8 -> 5.3 ms,
    28x28x3 -> 32 2.3 -> 1.3 ms. One input channel keeps the tap-major im2col
    (28x28x1 -> 32: 0.84 ms against 0.89 direct)."""
    rank = x.ndim - 2
    ksize = w.shape[:rank]
    out, pads = _plan(x.shape[1:-1], ksize, strides, dilation, padding)
    out_shape = (x.shape[0], *out, w.shape[-1])
    if 0 in out_shape or x.shape[-1] == 0:
        return np.zeros(out_shape, dtype=x.dtype)
    if direct and x.shape[-1] > 1 and direct_route(x.dtype, rank, w.shape[-1]):
        from ..kernels import direct_conv  # numba: imported on first use

        return direct_conv.correlate(_pad(x, pads), w, out, strides, dilation)
    if x.shape[-1] <= TAP_MAJOR_MAX_CHANNELS:
        return np.matmul(_tap_major_columns(_pad(x, pads), ksize, strides, dilation, out).T,
                         w.reshape(-1, w.shape[-1])).reshape(out_shape)
    windows = _patches(_pad(x, pads), ksize, strides, dilation, out)
    kernel = w.reshape(-1, w.shape[-1])
    res = np.empty(out_shape, dtype=x.dtype)
    for start, stop, cols in column_chunks(windows):
        # the patches of a few images laid out as matrix rows, then one matmul
        np.matmul(cols, kernel, out=res[start:stop].reshape(len(cols), -1))
    return res


#: inputs with at most this many channels build tap-major columns (see below)
TAP_MAJOR_MAX_CHANNELS = 3

#: bytes of im2col columns built at a time: a few images' worth, so that the matmul
#: reads them back from cache instead of memory (``benchmarks/bench_conv.py``: 1.2-1.8x
#: on the Keras models' layers against building every image's columns first, and a
#: ~1 MB buffer in place of one as large as all the patches)
COLUMN_CHUNK_BYTES = 2 << 20


def images_per_chunk(n: int, per_image: int, depth: int, itemsize: int) -> int:
    """How many of ``n`` images' columns (``per_image`` rows of ``depth`` values) fit in
    ``COLUMN_CHUNK_BYTES`` (at least one)."""
    return max(1, min(n, COLUMN_CHUNK_BYTES // max(1, per_image * depth * itemsize)))


def column_chunks(windows):
    """Yield ``(start, stop, columns)`` for consecutive groups of whole images of
    ``windows`` (the ``(N, *out, *k, C)`` patch view): ``columns`` is the group's
    ``(images * positions, prod(k) * C)`` im2col matrix, copied into one buffer
    reused for every group (so each is valid until the next is yielded)."""
    rank = (windows.ndim - 2) // 2
    n = windows.shape[0]
    per_image = math.prod(windows.shape[1:1 + rank])
    depth = math.prod(windows.shape[1 + rank:])
    step = images_per_chunk(n, per_image, depth, windows.itemsize)
    check_size((step * per_image, depth))
    buf = np.empty((step * per_image, depth), dtype=windows.dtype)
    for start in range(0, n, step):
        stop = min(n, start + step)
        cols = buf[:(stop - start) * per_image]
        cols.reshape(windows[start:stop].shape)[...] = windows[start:stop]
        yield start, stop, cols


def _tap_major_columns(xp, ksize, strides, dilation, out):
    """``(prod(k) * C, N * prod(out))`` columns, one row per (kernel offset, channel):
    each row is one strided slice of the padded input copied whole. With few channels
    the row-per-position layout copies runs of only C values (3x3x1: 9 floats per
    output pixel, gathered one at a time), which costs more than the matmul; this
    layout copies long runs, and BLAS takes its transpose as it is (no copy)
    (``benchmarks/bench_conv.py``, 28x28x1 -> 32, batch 64, float32: 2.7 -> 1.4 ms; with
    32 channels the row layout wins, 8.8 vs 13.0 ms)."""
    n, c = xp.shape[0], xp.shape[-1]
    taps = math.prod(ksize)
    check_size((taps * c, n * math.prod(out)))
    cols = np.empty((taps * c, n, *out), dtype=xp.dtype)
    for t, offset in enumerate(itertools.product(*(range(k) for k in ksize))):
        index = (slice(None),) + tuple(slice(a * d, a * d + (o - 1) * s + 1, s)
                                       for a, d, o, s in zip(offset, dilation, out, strides))
        window = xp[index]  # (N, *out, C): a bounds-checked NumPy view
        for ch in range(c):
            cols[t * c + ch] = window[..., ch]
    return cols.reshape(taps * c, -1)


def depthwise_channels_last(x, w, strides, padding, dilation):
    """Depthwise correlation: output channel ``c * m + j`` = x channel c with w[..., c, j]."""
    rank = x.ndim - 2
    ksize = w.shape[:rank]
    c, m = w.shape[-2], w.shape[-1]
    out, pads = _plan(x.shape[1:-1], ksize, strides, dilation, padding)
    acc = np.zeros((x.shape[0], *out, c, m), dtype=x.dtype)
    if acc.size:
        xp = _pad(x, pads)
        for offset in itertools.product(*(range(k) for k in ksize)):
            index = (slice(None),) + tuple(
                slice(a * d, a * d + (o - 1) * s + 1, s)
                for a, d, o, s in zip(offset, dilation, out, strides)) + (slice(None),)
            acc += xp[index][..., None] * w[offset]
    return acc.reshape(x.shape[0], *out, c * m)


def conv_transpose_channels_last(x, w, out_spatial, strides, padding, dilation):
    """Transposed correlation: ``w`` (*k, O, C); ``out_spatial`` the target sizes.
    One matmul to columns, then a strided scatter-add of each kernel offset (col2im)."""
    rank = x.ndim - 2
    ksize = w.shape[:rank]
    n, cin, cout = x.shape[0], x.shape[-1], w.shape[-2]
    fwd, pads = _plan(out_spatial, ksize, strides, dilation, padding)
    if fwd != x.shape[1:-1]:  # infer checked it; the slices below rely on it
        raise ValueError(f"output spatial shape {out_spatial} does not match the input")
    padded = tuple(o + b + a for o, (b, a) in zip(out_spatial, pads))
    check_size((n, *padded, cout))
    buf = np.zeros((n, *padded, cout), dtype=x.dtype)
    kprod = math.prod(ksize)
    if x.size and cout and kprod:
        wt = w.reshape(kprod, cout, cin).transpose(2, 0, 1).reshape(cin, kprod * cout)
        cols = np.matmul(x.reshape(-1, cin), wt).reshape(*x.shape[:-1], kprod, cout)
        for j, offset in enumerate(itertools.product(*(range(k) for k in ksize))):
            index = (slice(None),) + tuple(
                slice(a * d, a * d + (h - 1) * s + 1, s)
                for a, d, h, s in zip(offset, dilation, x.shape[1:-1], strides)) \
                + (slice(None),)
            buf[index] += cols[..., j, :]
    crop = (slice(None),) + tuple(slice(b, b + o) for o, (b, _) in zip(out_spatial, pads)) \
        + (slice(None),)
    return np.ascontiguousarray(buf[crop])


def local_conv_channels_last(x, w, ksize, strides, out, fmt):
    """Unshared-weight correlation: position p uses ``w[p]`` (prod(k)*C, O). ``x`` is
    channels-last; ``fmt`` only decides the patch order (TF flattens the slice of the
    input in its own layout)."""
    rank = x.ndim - 2
    n, c, o = x.shape[0], x.shape[-1], w.shape[-1]
    if 0 in out or n == 0:
        return np.zeros((n, *out, o), dtype=x.dtype)
    win = _patches(x, ksize, strides, (1,) * rank, out)  # (N, *out, *k, C)
    if fmt == "channels_first":  # patch order (C, *k)
        win = np.moveaxis(win, -1, rank + 1)
    positions = math.prod(out)
    cols = win.reshape(n, positions, math.prod(ksize) * c).transpose(1, 0, 2)
    res = np.matmul(cols, w)  # (P, N, O)
    return np.ascontiguousarray(res.transpose(1, 0, 2)).reshape(n, *out, o)


def _inputs(args, fmt, dtype):
    work = _compute_dtype(dtype)
    return [np.asarray(a).astype(work, copy=False) for a in args]


def _conv_kernel(args, in_shapes, attrs, out_shape, out_dtype, direct: bool = True):
    x, w = _inputs(args, attrs["data_format"], out_dtype)
    res = conv_channels_last(_to_last(x, attrs["data_format"]), w, attrs["strides"],
                             attrs["padding"], attrs["dilation"], direct=direct)
    return _from_last(res, attrs["data_format"]).astype(out_dtype, copy=False)


def _conv_tier0(args, in_shapes, attrs, out_shape, out_dtype):
    """The kernel without the direct route: nothing to compile (``runtime.tiered``)."""
    return _conv_kernel(args, in_shapes, attrs, out_shape, out_dtype, direct=False)


def _depthwise_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    x, w = _inputs(args, attrs["data_format"], out_dtype)
    res = depthwise_channels_last(_to_last(x, attrs["data_format"]), w, attrs["strides"],
                                  attrs["padding"], attrs["dilation"])
    return _from_last(res, attrs["data_format"]).astype(out_dtype, copy=False)


def _transpose_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    fmt = attrs["data_format"]
    x, w = _inputs(args[:2], fmt, out_dtype)  # the rest (None) were read for dims only
    res = conv_transpose_channels_last(_to_last(x, fmt), w, _split(out_shape, fmt)[1],
                                       attrs["strides"], attrs["padding"], attrs["dilation"])
    return _from_last(res, fmt).astype(out_dtype, copy=False)


def _local_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    fmt = attrs["data_format"]
    x, w = _inputs(args, fmt, out_dtype)
    res = local_conv_channels_last(_to_last(x, fmt), w, attrs["kernel_size"],
                                   attrs["strides"], attrs["output_shape"], fmt)
    return _from_last(res, fmt).astype(out_dtype, copy=False)


# -- NumPy references (no im2col, no scatter) ----------------------------------------------
def _ref_pad(x, pads, value=0.0):
    return np.pad(x, ((0, 0), *pads, (0, 0)), constant_values=value)


def conv_reference(x, w, strides, padding, dilation):
    """Channels-last correlation as a sum over kernel offsets of ``tensordot``s."""
    rank = x.ndim - 2
    ksize = w.shape[:rank]
    out, pads = _plan(x.shape[1:-1], ksize, strides, dilation, padding)
    xp = _ref_pad(x, pads)
    res = np.zeros((x.shape[0], *out, w.shape[-1]), dtype=np.float64)
    for offset in np.ndindex(*ksize):
        index = (slice(None),) + tuple(slice(a * d, a * d + (o - 1) * s + 1, s) if o else
                                       slice(0, 0)
                                       for a, d, o, s in zip(offset, dilation, out, strides))
        res += np.tensordot(xp[index], w[offset], axes=([-1], [0]))
    return res.astype(x.dtype)


def _ref_conv(arrays, attrs, out_shape, out_dtype):
    fmt = attrs["data_format"]
    x, w = (a.astype(np.float64) for a in arrays)
    res = conv_reference(_to_last(x, fmt), w, attrs["strides"], attrs["padding"],
                         attrs["dilation"])
    return _from_last(res, fmt).astype(out_dtype)


def _ref_depthwise(arrays, attrs, out_shape, out_dtype):
    fmt = attrs["data_format"]
    x, w = (a.astype(np.float64) for a in arrays)
    x = _to_last(x, fmt)
    per_channel = [conv_reference(x[..., c:c + 1], w[..., c:c + 1, :], attrs["strides"],
                                  attrs["padding"], attrs["dilation"])
                   for c in range(x.shape[-1])]
    res = np.stack(per_channel, axis=-2).reshape(out_shape[0], *_split(out_shape, fmt)[1], -1)
    return _from_last(res, fmt).astype(out_dtype)


def _ref_transpose(arrays, attrs, out_shape, out_dtype):
    """Dilate x by the stride, fully pad it, correlate with the flipped kernel, crop."""
    fmt = attrs["data_format"]
    x, w = (a.astype(np.float64) for a in arrays[:2])
    x = _to_last(x, fmt)
    rank = x.ndim - 2
    ksize, strides, dilation = w.shape[:rank], attrs["strides"], attrs["dilation"]
    target = _split(out_shape, fmt)[1]
    _, pads = _plan(target, ksize, strides, dilation, attrs["padding"])
    dil = np.zeros((x.shape[0], *((h - 1) * s + 1 for h, s in zip(x.shape[1:-1], strides)),
                    x.shape[-1]))
    dil[(slice(None),) + tuple(slice(None, None, s) for s in strides)] = x
    full = _ref_pad(dil, [(d * (k - 1),) * 2 for k, d in zip(ksize, dilation)])
    flipped = np.swapaxes(w[(slice(None, None, -1),) * rank], -1, -2)  # (*k, C, O)
    res = conv_reference(full, flipped, (1,) * rank, "valid", dilation)
    # res covers padded-output positions [0, (h-1)*s + eff); the rest of the pad is zero
    need = [b + o for o, (b, _) in zip(target, pads)]
    extra = [(0, max(m - r, 0)) for m, r in zip(need, res.shape[1:-1])]
    res = _ref_pad(res, extra)
    crop = (slice(None),) + tuple(slice(b, b + o) for o, (b, _) in zip(target, pads))
    return _from_last(res[crop], fmt).astype(out_dtype)


def _ref_local(arrays, attrs, out_shape, out_dtype):
    """Keras's own algorithm: slice each window in the input's layout, flatten, dot."""
    fmt = attrs["data_format"]
    x, w = (a.astype(np.float64) for a in arrays)
    ksize, strides, out = attrs["kernel_size"], attrs["strides"], attrs["output_shape"]
    rows = []
    for p, pos in enumerate(np.ndindex(*out)):
        window = tuple(slice(i * s, i * s + k) for i, s, k in zip(pos, strides, ksize))
        index = (slice(None), *window, slice(None)) if fmt == "channels_last" else \
            (slice(None), slice(None), *window)
        rows.append(x[index].reshape(x.shape[0], -1) @ w[p])
    res = np.stack(rows, axis=1) if rows else np.zeros((x.shape[0], 0, w.shape[-1]))
    res = res.reshape(x.shape[0], *out, w.shape[-1])
    return _from_last(res, fmt).astype(out_dtype)


CONV = register(Op(
    "conv", KERNEL, _conv_infer, _ref_conv, kernel=_conv_kernel,
    extra={"fresh_output": True, "tier0": _conv_tier0},
    doc="N-d cross-correlation (1-3 spatial dims), kernel (k..., in, out); direct SIMD "
        "kernels or im2col + BLAS"))
DEPTHWISE_CONV = register(Op(
    "depthwise_conv", KERNEL, _depthwise_infer, _ref_depthwise, kernel=_depthwise_kernel,
    extra={"tier0": "kernel"},
    doc="N-d depthwise cross-correlation, kernel (k..., in, multiplier)"))
CONV_TRANSPOSE = register(Op(
    "conv_transpose", KERNEL, _transpose_infer, _ref_transpose, kernel=_transpose_kernel,
    data_inputs=(0, 1),
    doc="N-d transposed convolution to an explicit output shape, kernel (k..., out, in)"))
LOCAL_CONV = register(Op(
    "local_conv", KERNEL, _local_infer, _ref_local, kernel=_local_kernel,
    doc="N-d convolution with unshared weights, kernel (positions, prod(k)*in, out)"))
