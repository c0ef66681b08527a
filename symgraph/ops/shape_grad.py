"""The shape ops' gradients: their rules, and the two ops only those rules build,
``scatter_index`` (basic indexing's gradient) and ``concat_part`` (one input's part of
a concatenation's gradient, its offset known at run time).

The rules stand here, above the ops they differentiate, because broadcast_to's rule
calls ``unbroadcast``, which reduces (``ops.gradutil``).
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor
from .gradutil import unbroadcast, zeros_like
from .registry import KERNEL, VIEW, Op, define_grad, register
from .shape import concatenate, getitem_parsed, reshape, transpose
from .shape_defs import BROADCAST_TO, CONCATENATE, GETITEM, RESHAPE, TRANSPOSE, numpy_index, refs_of


# -- scatter for basic indexing --------------------------------------------------------------
def _scatter_index_infer(in_shapes, in_dtypes, attrs):
    return tuple(in_shapes[1]), in_dtypes[0]


def _scatter_index_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    out = np.zeros(out_shape, dtype=out_dtype)
    out[numpy_index(attrs["index"])] = args[0]  # a basic index never repeats a position
    return out


SCATTER_INDEX = register(Op(
    "scatter_index", KERNEL, _scatter_index_infer,
    lambda arrays, attrs, out_shape, out_dtype: _scatter_index_kernel(arrays, None, attrs,
                                                                     out_shape, out_dtype),
    data_inputs=(0,), kernel=_scatter_index_kernel,
    grad=lambda node, g: (getitem_parsed(g, node.attrs["index"]), None),
    doc="zeros of input 1's shape with input 0 written at a basic index (getitem's gradient)"))


def scatter_index(g: Tensor, x: Tensor, index) -> Tensor:
    """Zeros of ``x``'s shape with ``g`` written at the basic ``index`` (the attribute
    of a ``getitem`` node)."""
    return g.graph.make(SCATTER_INDEX, (g, x), {"index": index})


# -- one input's part of a concatenation ------------------------------------------------------
def _part_bounds(in_shapes, attrs):
    axis, part = attrs["axis"], attrs["part"]
    start = 0
    for s in in_shapes[1:1 + part]:
        start = None if start is None or s[axis] is None else start + s[axis]
    size = in_shapes[1 + part][axis]
    return axis, start, size


def _concat_part_infer(in_shapes, in_dtypes, attrs):
    return tuple(in_shapes[1 + attrs["part"]]), in_dtypes[0]


def _concat_part_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    axis, start, size = _part_bounds(in_shapes, attrs)
    index = [slice(None)] * len(out_shape)
    index[axis] = slice(start, start + size)
    return args[0][tuple(index)]


CONCAT_PART = register(Op(
    "concat_part", VIEW, _concat_part_infer,
    lambda arrays, attrs, out_shape, out_dtype: _concat_part_kernel(
        arrays, [a.shape for a in arrays], attrs, out_shape, out_dtype),
    data_inputs=(0,), kernel=_concat_part_kernel,
    grad=lambda node, g: _concat_part_grad(node, g),
    doc="the slice of input 0 that input 1+part occupied in a concatenation"))


def _concat_part_grad(node, g):
    parts = [g if i == node.attrs["part"] else zeros_like(src)
             for i, src in enumerate(node.inputs[1:])]
    return (concatenate(parts, node.attrs["axis"]),) + (None,) * (len(node.inputs) - 1)


def concat_part(g: Tensor, inputs, axis: int, part: int) -> Tensor:
    """The part of ``g`` that ``inputs[part]`` occupied in their concatenation along
    ``axis`` (its offset known at run time)."""
    return g.graph.make(CONCAT_PART, (g, *inputs), {"axis": axis, "part": part})


# -- gradient rules ------------------------------------------------------------------------------
def _reshape_grad(node, g):
    x = node.inputs[0]
    return (reshape(g, refs_of(1, len(x.shape)), shape_sources=(x,)),) + \
        (None,) * (len(node.inputs) - 1)


def _transpose_grad(node, g):
    perm = node.attrs["perm"]
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return (transpose(g, tuple(inverse)),)


def _broadcast_grad(node, g):
    return (unbroadcast(g, node.inputs[0]),) + (None,) * (len(node.inputs) - 1)


def _getitem_grad(node, g):
    return (scatter_index(g, node.inputs[0], node.attrs["index"]),)


def _concat_grad(node, g):
    axis = node.attrs["axis"]
    return tuple(concat_part(g, node.inputs, axis, i) for i in range(len(node.inputs)))


define_grad(RESHAPE, _reshape_grad)
define_grad(TRANSPOSE, _transpose_grad)
define_grad(BROADCAST_TO, _broadcast_grad)
define_grad(GETITEM, _getitem_grad)
define_grad(CONCATENATE, _concat_grad)
