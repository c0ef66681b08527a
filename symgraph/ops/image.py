"""Zero padding and bilinear resizing.

``pad`` adds zeros before/after each axis (the padded copy is one numba copy into a
zeroed buffer). ``resize_bilinear`` resizes axes 1 and 2 of an ``(N, H, W, C)``
tensor with TF 2's half-pixel-centre rule: output pixel ``o`` samples input
coordinate ``(o + 0.5) / scale - 0.5``, clamped to the image.
"""

from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.tensor import Tensor
from ..kernels import cache
from ..kernels.copies import copy_into
from .registry import KERNEL, Op, define_grad, register


# -- pad ------------------------------------------------------------------------------------
def _pad_infer(in_shapes, in_dtypes, attrs):
    shape, pads = in_shapes[0], attrs["pads"]
    if shape is None or len(shape) != len(pads):
        raise ValueError(f"padding {pads} needs a tensor of rank {len(pads)}")
    return tuple(None if d is None else d + lo + hi for d, (lo, hi) in zip(shape, pads)), \
        in_dtypes[0]


def _pad_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    out = np.zeros(out_shape, dtype=out_dtype)
    inner = tuple(slice(lo, lo + d) for d, (lo, _) in zip(args[0].shape, attrs["pads"]))
    copy_into(out[inner], args[0])
    return out


PAD = register(Op(
    "pad", KERNEL, _pad_infer,
    lambda arrays, attrs, out_shape, out_dtype: np.pad(arrays[0], attrs["pads"]),
    kernel=_pad_kernel, doc="zero padding before/after each axis"))


def pad(x: Tensor, pads) -> Tensor:
    """``pads``: one ``(before, after)`` pair of non-negative ints per axis of ``x``."""
    pads = tuple((int(lo), int(hi)) for lo, hi in pads)
    if all(lo == 0 and hi == 0 for lo, hi in pads) and x.shape is not None \
            and len(x.shape) == len(pads):
        return x
    return x.graph.make(PAD, (x,), {"pads": pads})


# -- bilinear resize --------------------------------------------------------------------------
_SOURCE = '''import math

import numpy as np
from numba import njit


@njit(cache=CACHE, nogil=True)
def _axis_weights(n_out, n_in, scale):
    lower = np.empty(n_out, np.int64)
    upper = np.empty(n_out, np.int64)
    frac = np.empty(n_out, np.float64)
    for o in range(n_out):
        src = (o + 0.5) / scale - 0.5
        f = math.floor(src)
        lo = int(f)
        hi = int(math.ceil(src))
        frac[o] = src - f
        lower[o] = min(max(lo, 0), n_in - 1)
        upper[o] = min(max(hi, 0), n_in - 1)
    return lower, upper, frac


@njit(cache=CACHE, nogil=True)
def resize(x, out, scale_h, scale_w):
    n, h_in, w_in, c = x.shape
    h_out = out.shape[1]
    w_out = out.shape[2]
    top, bottom, fy = _axis_weights(h_out, h_in, scale_h)
    left, right, fx = _axis_weights(w_out, w_in, scale_w)
    for b in range(n):
        for i in range(h_out):
            for j in range(w_out):
                for k in range(c):
                    tl = x[b, top[i], left[j], k]
                    tr = x[b, top[i], right[j], k]
                    bl = x[b, bottom[i], left[j], k]
                    br = x[b, bottom[i], right[j], k]
                    t = tl + (tr - tl) * fx[j]
                    d = bl + (br - bl) * fx[j]
                    out[b, i, j, k] = t + (d - t) * fy[i]


@njit(cache=CACHE, nogil=True)
def resize_grad(g, out, scale_h, scale_w):
    # the transpose of resize: each output pixel's gradient flows back to its 4 sources
    n, h_out, w_out, c = g.shape
    h_in = out.shape[1]
    w_in = out.shape[2]
    top, bottom, fy = _axis_weights(h_out, h_in, scale_h)
    left, right, fx = _axis_weights(w_out, w_in, scale_w)
    for b in range(n):
        for i in range(h_out):
            for j in range(w_out):
                for k in range(c):
                    v = g[b, i, j, k]
                    vt = v * (1.0 - fy[i])
                    vb = v * fy[i]
                    out[b, top[i], left[j], k] += vt * (1.0 - fx[j])
                    out[b, top[i], right[j], k] += vt * fx[j]
                    out[b, bottom[i], left[j], k] += vb * (1.0 - fx[j])
                    out[b, bottom[i], right[j], k] += vb * fx[j]
'''


def _resize_infer(in_shapes, in_dtypes, attrs):
    shape = in_shapes[0]
    if shape is None or len(shape) != 4:
        raise ValueError("bilinear resizing needs a 4-D tensor (batch, rows, cols, channels)")
    fh, fw = attrs["factors"]
    n, h, w, c = shape
    dtype = in_dtypes[0] if dtypes.is_float(in_dtypes[0]) else "float32"
    return (n, None if h is None else h * fh, None if w is None else w * fw, c), dtype


def _run_resize(kernel_name, src, attrs, out_shape, out_dtype, zeroed):
    """Run the bilinear ``resize`` kernel or its transpose ``resize_grad`` (which
    accumulates, so its output starts zeroed) in float32 or float64."""
    compute = np.float64 if out_dtype == "float64" else np.float32
    src = np.ascontiguousarray(src, dtype=compute)
    out = (np.zeros if zeroed else np.empty)(out_shape, dtype=compute)
    if src.size and out.size:
        fh, fw = attrs["factors"]
        getattr(cache.load(_SOURCE), kernel_name)(src, out, float(fh), float(fw))
    return out.astype(out_dtype, copy=False)


def _resize_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    return _run_resize("resize", args[0], attrs, out_shape, out_dtype, zeroed=False)


def _resize_reference(arrays, attrs, out_shape, out_dtype):
    x = arrays[0].astype(np.float64)
    fh, fw = attrs["factors"]

    def weights(n_out, n_in, scale):
        src = (np.arange(n_out) + 0.5) / scale - 0.5
        lo = np.clip(np.floor(src).astype(int), 0, n_in - 1)
        hi = np.clip(np.ceil(src).astype(int), 0, n_in - 1)
        return lo, hi, src - np.floor(src)

    t, b, fy = weights(out_shape[1], x.shape[1], fh)
    lft, r, fx = weights(out_shape[2], x.shape[2], fw)
    rows_t, rows_b = x[:, t], x[:, b]
    top = rows_t[:, :, lft] + (rows_t[:, :, r] - rows_t[:, :, lft]) * fx[None, None, :, None]
    bot = rows_b[:, :, lft] + (rows_b[:, :, r] - rows_b[:, :, lft]) * fx[None, None, :, None]
    return (top + (bot - top) * fy[None, :, None, None]).astype(out_dtype)


RESIZE_BILINEAR = register(Op(
    "resize_bilinear", KERNEL, _resize_infer, _resize_reference, kernel=_resize_kernel,
    doc="bilinear upsampling of axes 1, 2 by integer factors (half-pixel centres)"))


def resize_bilinear(x: Tensor, height_factor: int, width_factor: int) -> Tensor:
    return x.graph.make(RESIZE_BILINEAR, (x,), {"factors": (int(height_factor),
                                                            int(width_factor))})


def _resize_grad_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    return _run_resize("resize_grad", args[0], attrs, out_shape, out_dtype, zeroed=True)


def _resize_grad_reference(arrays, attrs, out_shape, out_dtype):
    # the adjoint of the reference resize, column by column of its (linear) matrix
    x_shape = tuple(out_shape)
    g = arrays[0].astype(np.float64)
    out = np.zeros(x_shape)
    basis = np.zeros(x_shape)
    for idx in np.ndindex(*x_shape[1:3]):
        basis[...] = 0
        basis[:, idx[0], idx[1], :] = 1
        image = _resize_reference([basis], attrs, g.shape, "float64")
        out[:, idx[0], idx[1], :] = (image * g).sum(axis=(1, 2))
    return out.astype(out_dtype)


RESIZE_BILINEAR_GRAD = register(Op(
    "resize_bilinear_grad", KERNEL,
    lambda in_shapes, in_dtypes, attrs: (tuple(in_shapes[1]), in_dtypes[0]),
    _resize_grad_reference, data_inputs=(0,), kernel=_resize_grad_kernel,
    grad=lambda node, g: (resize_bilinear(g, *node.attrs["factors"]), None),
    doc="the gradient of resize_bilinear (its transpose), into input 1's shape"))


def _pad_grad(node, g):
    from .shape import getitem_parsed

    index = tuple(("slice", lo, -hi if hi else None, 1) for lo, hi in node.attrs["pads"])
    return (getitem_parsed(g, index),)


define_grad(PAD, _pad_grad)
define_grad(RESIZE_BILINEAR, lambda node, g: (node.graph.make(
    RESIZE_BILINEAR_GRAD, (g, node.inputs[0]), {"factors": node.attrs["factors"]}),))
