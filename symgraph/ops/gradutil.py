"""Helpers for gradient rules, and the ops that only gradients need.

* ``unbroadcast(g, x)``: sum a broadcast result's gradient back to ``x``'s shape.
  Statically when the shapes tell which axes were broadcast; otherwise with the
  ``sum_to`` op, which decides at run time (``None`` dims may be 1 or not).
* ``expand_reduced(g, x, axes, keepdims)``: a reduction's gradient broadcast back.
* ``scatter_index`` (basic indexing's gradient), ``concat_part`` (one input's part
  of a concatenation's gradient, offsets known at run time), ``scatter_rows``
  (gather's gradient, duplicate indices add up), ``scatter_pick`` (pick's gradient).
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor
from ..kernels import cache
from .registry import KERNEL, VIEW, Op, register


def _ops():
    from .. import ops

    return ops


def refs_of(index: int, rank: int) -> tuple:
    """A reshape/broadcast target copying every dim of shape source ``index``."""
    return tuple(((index, i),) for i in range(rank))


def zeros_like(x: Tensor) -> Tensor:
    return _ops().fill_like(x, 0)


def unbroadcast(g: Tensor, x: Tensor) -> Tensor:
    """``g`` (of a broadcast shape) summed down to ``x``'s shape."""
    from .reduce import reduce

    ops = _ops()
    gs, xs = g.shape, x.shape
    if gs == xs and None not in gs:
        return g
    lead = len(gs) - len(xs)
    axes = list(range(lead))
    for i, d in enumerate(xs):
        gd = gs[lead + i]
        if d == 1 and gd != 1:
            axes.append(lead + i)
        elif d is None and gd != 1:
            return g.graph.make(SUM_TO, (g, x))  # 1 or not: only the run time knows
    if not axes:
        return g
    out = reduce("sum", g, axes, True)
    return ops.reshape(out, refs_of(1, len(xs)), shape_sources=(x,)) if lead else out


def _sum_to_infer(in_shapes, in_dtypes, attrs):
    g, x = in_shapes
    lead = len(g) - len(x)
    if lead < 0:
        raise ValueError("sum_to: the target has a higher rank than the gradient")
    for gd, xd in zip(g[lead:], x):
        if gd is not None and xd is not None and xd != 1 and gd != xd:
            raise ValueError(f"cannot sum shape {tuple(g)} to {tuple(x)}")
    return tuple(x), in_dtypes[0]


def _sum_to_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    g = args[0]
    lead = g.ndim - len(out_shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(out_shape)
                                      if d == 1 and g.shape[lead + i] != 1)
    if not axes:
        return g
    return np.sum(g, axis=axes, keepdims=True, dtype=out_dtype).reshape(out_shape)


SUM_TO = register(Op(
    "sum_to", VIEW, _sum_to_infer,
    lambda arrays, attrs, out_shape, out_dtype: _sum_to_kernel(arrays, None, attrs, out_shape,
                                                              out_dtype),
    data_inputs=(0,), kernel=_sum_to_kernel,
    grad=lambda node, g: (_ops().broadcast_to(g, refs_of(1, len(node.inputs[0].shape)),
                                              shape_sources=(node.inputs[0],)), None),
    doc="sum a gradient down to the run-time shape of input 1 (read for its shape)"))


def expand_reduced(g: Tensor, x: Tensor, axes, keepdims: bool) -> Tensor:
    """A reduction's output gradient broadcast back to the input's shape."""
    ops = _ops()
    rank = len(x.shape)
    if not keepdims:
        target = tuple(1 if i in axes else ((1, i),) for i in range(rank))
        g = ops.reshape(g, target, shape_sources=(x,))
    return ops.broadcast_to(g, refs_of(1, rank), shape_sources=(x,))


def count_of(x: Tensor, axes, dtype: str):
    """The number of elements over ``axes`` of ``x``: an int when static, else a
    run-time scalar tensor of ``dtype``."""
    ops = _ops()
    dims = [x.shape[a] for a in axes]
    if None not in dims:
        return int(np.prod(dims, dtype=np.int64))
    shape = ops.shape_of(x)
    count = None
    for a in axes:
        d = ops.getitem(shape, a)
        count = d if count is None else count * d
    return ops.cast(count, dtype)


# -- scatter for basic indexing --------------------------------------------------------------
def _scatter_index_infer(in_shapes, in_dtypes, attrs):
    return tuple(in_shapes[1]), in_dtypes[0]


def _scatter_index_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    from .shape import _numpy_index

    out = np.zeros(out_shape, dtype=out_dtype)
    out[_numpy_index(attrs["index"])] = args[0]  # a basic index never repeats a position
    return out


SCATTER_INDEX = register(Op(
    "scatter_index", KERNEL, _scatter_index_infer,
    lambda arrays, attrs, out_shape, out_dtype: _scatter_index_kernel(arrays, None, attrs,
                                                                     out_shape, out_dtype),
    data_inputs=(0,), kernel=_scatter_index_kernel,
    grad=lambda node, g: (_ops().getitem_parsed(g, node.attrs["index"]), None),
    doc="zeros of input 1's shape with input 0 written at a basic index (getitem's gradient)"))


def scatter_index(g: Tensor, x: Tensor, index) -> Tensor:
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
    ops = _ops()
    parts = [g if i == node.attrs["part"] else zeros_like(src)
             for i, src in enumerate(node.inputs[1:])]
    return (ops.concatenate(parts, node.attrs["axis"]),) + (None,) * (len(node.inputs) - 1)


def concat_part(g: Tensor, inputs, axis: int, part: int) -> Tensor:
    return g.graph.make(CONCAT_PART, (g, *inputs), {"axis": axis, "part": part})


# -- scatter-add of rows (gather's gradient) and of picked entries ---------------------------------
_SOURCE = '''from numba import njit


@njit(cache=CACHE, nogil=True)
def scatter_rows(g, index, out):
    inner = g.shape[1]
    for i in range(index.shape[0]):
        row = index[i]
        for j in range(inner):
            out[row, j] += g[i, j]


@njit(cache=CACHE, nogil=True)
def scatter_pick(g, index, out):
    for i in range(index.shape[0]):
        out[i, index[i]] += g[i]
'''


def _scatter_rows_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    from .indexing import _check_range

    g, idx = args[0], args[1]
    idx = np.ascontiguousarray(idx, dtype=np.int64).reshape(-1)
    n = out_shape[0]
    _check_range(idx, n, "gather index")
    inner = int(np.prod(out_shape[1:], dtype=np.int64))
    out = np.zeros((n, inner), dtype=out_dtype)
    if idx.size and inner:
        g2 = np.ascontiguousarray(g, dtype=out_dtype).reshape(idx.shape[0], inner)
        cache.load(_SOURCE).scatter_rows(g2, idx, out)
    return out.reshape(out_shape)


def _scatter_rows_reference(arrays, attrs, out_shape, out_dtype):
    g, idx = arrays[0], np.asarray(arrays[1], dtype=np.int64).reshape(-1)
    out = np.zeros(out_shape, dtype=out_dtype)
    np.add.at(out, idx, g.reshape((idx.shape[0],) + tuple(out_shape[1:])))
    return out


SCATTER_ROWS = register(Op(
    "scatter_rows", KERNEL, lambda in_shapes, in_dtypes, attrs: (tuple(in_shapes[2]),
                                                                 in_dtypes[0]),
    _scatter_rows_reference, data_inputs=(0, 1), kernel=_scatter_rows_kernel,
    grad=lambda node, g: (_ops().gather(g, node.inputs[1]), None, None),
    doc="rows of input 0 added into zeros of input 2's shape at indices input 1"))


def _scatter_pick_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    from .indexing import _check_range

    g, idx = args[0], args[1]
    n_classes = out_shape[-1]
    idx = np.ascontiguousarray(idx, dtype=np.int64).reshape(-1)
    _check_range(idx, n_classes, "class index")
    out = np.zeros((idx.shape[0], n_classes), dtype=out_dtype)
    if idx.size:
        g1 = np.ascontiguousarray(g, dtype=out_dtype).reshape(-1)
        cache.load(_SOURCE).scatter_pick(g1, idx, out)
    return out.reshape(out_shape)


def _scatter_pick_reference(arrays, attrs, out_shape, out_dtype):
    g, idx = arrays[0], np.asarray(arrays[1], dtype=np.int64)
    out = np.zeros(out_shape, dtype=out_dtype)
    np.put_along_axis(out, idx[..., None], g[..., None], axis=-1)
    return out


SCATTER_PICK = register(Op(
    "scatter_pick", KERNEL, lambda in_shapes, in_dtypes, attrs: (tuple(in_shapes[2]),
                                                                 in_dtypes[0]),
    _scatter_pick_reference, data_inputs=(0, 1), kernel=_scatter_pick_kernel,
    grad=lambda node, g: (_ops().pick(g, node.inputs[1]), None, None),
    doc="input 0 written into zeros of input 2's shape at one class index per row"))


def scatter_rows(g: Tensor, indices: Tensor, like: Tensor) -> Tensor:
    return g.graph.make(SCATTER_ROWS, (g, indices, like))


def scatter_pick(g: Tensor, indices: Tensor, like: Tensor) -> Tensor:
    return g.graph.make(SCATTER_PICK, (g, indices, like))
