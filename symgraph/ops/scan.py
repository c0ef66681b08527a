"""Cumulative sums and products along one axis (numba loops).

The input is viewed as ``(outer, n, inner)`` with the scanned axis in the middle, so
one loop nest serves every axis and the innermost loop runs over contiguous memory.
The result keeps the input's dtype and accumulates in it (TF's rule: an int32
cumsum stays int32; NumPy would widen to int64).
"""

from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.shapes import normalize_axis
from ..core.tensor import Tensor
from ..errors import DTypeError, ShapeError, op_error
from ..kernels import cache
from ..kernels.inputs import as_kernel_input
from .leaves import as_tensor
from .registry import KERNEL, Op, define_grad, register
from .shape import getitem_parsed

_SOURCE = '''from numba import njit


@njit(cache=CACHE, nogil=True)
def scan(x, out, product):
    outer, n, inner = x.shape
    for o in range(outer):
        for j in range(inner):
            out[o, 0, j] = x[o, 0, j]
        for i in range(1, n):
            if product:
                for j in range(inner):
                    out[o, i, j] = out[o, i - 1, j] * x[o, i, j]
            else:
                for j in range(inner):
                    out[o, i, j] = out[o, i - 1, j] + x[o, i, j]
'''


def _infer(in_shapes, in_dtypes, attrs):
    shape = in_shapes[0]
    if shape is None:
        raise ValueError("the input's rank must be known")
    if dtypes.is_bool(in_dtypes[0]):
        raise TypeError("cumulative sums/products of bool tensors are not defined; cast first")
    return tuple(shape), in_dtypes[0]


def _kernel(args, in_shapes, attrs, out_shape, out_dtype):
    x = args[0]
    axis = attrs["axis"]
    shape = x.shape
    n = shape[axis]
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    out = np.empty(out_shape, dtype=out_dtype)
    if out.size == 0:
        return out
    x3 = np.ascontiguousarray(as_kernel_input(x)).reshape(outer, n, inner)
    out3 = out.reshape(outer, n, inner)
    if out3.dtype != x3.dtype:  # float16 computes in float32
        tmp = np.empty(x3.shape, dtype=x3.dtype)
        cache.load(_SOURCE).scan(x3, tmp, attrs["kind"] == "cumprod")
        out3[...] = tmp
    else:
        cache.load(_SOURCE).scan(x3, out3, attrs["kind"] == "cumprod")
    return out


def _reference(arrays, attrs, out_shape, out_dtype):
    fn = np.cumprod if attrs["kind"] == "cumprod" else np.cumsum
    return fn(arrays[0], axis=attrs["axis"], dtype=out_dtype)


CUMULATIVE = register(Op(
    "cumulative", KERNEL, _infer, _reference, kernel=_kernel,
    doc="cumulative sum or product along an axis (attr kind)"))


def cumulative(kind: str, x, axis: int) -> Tensor:
    x = as_tensor(x)
    if x.shape is None:
        raise op_error(ShapeError, kind, [x], "the input's rank is unknown")
    if len(x.shape) == 0:
        raise op_error(ShapeError, kind, [x], "needs a tensor of rank >= 1")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise op_error(DTypeError, kind, [x], f"axis must be an int, got {axis!r}")
    try:
        axis = normalize_axis(int(axis), len(x.shape))
    except ValueError as exc:
        raise op_error(ShapeError, kind, [x], str(exc)) from None
    return x.graph.make(CUMULATIVE, (x,), {"kind": kind, "axis": axis})


# -- gradient rule -------------------------------------------------------------------------------
def _reversed(x: Tensor, axis: int) -> Tensor:
    index = tuple(("slice", None, None, -1 if a == axis else 1) for a in range(len(x.shape)))
    return getitem_parsed(x, index)


def _cumulative_grad(node, g):
    """cumsum: the reversed cumsum of g. cumprod: TF's rule, reversed cumsum of
    ``y * g`` divided by ``x`` (not defined where x is 0, as in TF)."""
    x, axis = node.inputs[0], node.attrs["axis"]
    if node.attrs["kind"] == "cumsum":
        return (_reversed(cumulative("cumsum", _reversed(g, axis), axis), axis),)
    return (_reversed(cumulative("cumsum", _reversed(node * g, axis), axis), axis) / x,)


define_grad(CUMULATIVE, _cumulative_grad)
