"""Ops that read a tensor at positions given by another tensor: ``gather`` (rows of
a tensor), ``pick`` (one entry along the last axis per row: what sparse
crossentropy reads) and ``in_top_k``; and the scatter-adds that are gather's and
pick's gradients (``scatter_rows``, ``scatter_pick``).

Index values are data, known only at run time, so every kernel validates them in
Python before the numba loop runs: an out-of-range index is a clear error, never an
out-of-bounds read.
"""

from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.tensor import Tensor
from ..errors import DTypeError, ShapeError, op_error
from ..kernels import cache
from .leaves import as_tensor
from .registry import KERNEL, NOT_DIFFERENTIABLE, Op, define_grad, register

_SOURCE = '''import math
import numpy as np
from numba import njit


@njit(cache=CACHE, nogil=True)
def gather_rows(table, index, out):
    # table (n, inner), index (m,) validated in [0, n), out (m, inner)
    inner = table.shape[1]
    for i in range(index.shape[0]):
        row = index[i]
        for j in range(inner):
            out[i, j] = table[row, j]


@njit(cache=CACHE, nogil=True)
def pick_last(x, index, out):
    # x (m, c), index (m,) validated in [0, c): out[i] = x[i, index[i]]
    for i in range(index.shape[0]):
        out[i] = x[i, index[i]]


@njit(cache=CACHE, nogil=True)
def in_top_k(pred, target, k, out):
    n_classes = pred.shape[1]
    for b in range(pred.shape[0]):
        t = target[b]
        if t < 0 or t >= n_classes or not math.isfinite(pred[b, t]):
            out[b] = False
            continue
        value = pred[b, t]
        above = 0
        finite = True
        for c in range(n_classes):
            p = pred[b, c]
            if not math.isfinite(p):
                finite = False
                break
            if p > value:
                above += 1
        out[b] = finite and above < k
'''


def _module():
    return cache.load(_SOURCE)


def _int_indices(dtype: str, what: str) -> None:
    if dtypes.normalize(dtype) not in ("int8", "int16", "int32", "int64", "uint8", "uint16",
                                       "uint32"):
        raise TypeError(f"{what} must be integers, got {dtype}")


def _check_range(index: np.ndarray, size: int, what: str) -> None:
    if index.size and (index.min() < 0 or index.max() >= size):
        bad = index[(index < 0) | (index >= size)].flat[0]
        raise IndexError(f"{what} {bad} is out of range [0, {size})")


# -- gather -------------------------------------------------------------------------------
def _gather_infer(in_shapes, in_dtypes, attrs):
    ref, idx = in_shapes
    if ref is None or idx is None:
        raise ValueError("gather needs inputs of known rank")
    if len(ref) == 0:
        raise ValueError("cannot gather from a scalar (rank 0) reference")
    _int_indices(in_dtypes[1], "gather indices")
    return tuple(idx) + tuple(ref[1:]), in_dtypes[0]


def _gather_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    ref, idx = args
    idx = np.ascontiguousarray(idx, dtype=np.int64).reshape(-1)
    _check_range(idx, ref.shape[0], "gather index")
    inner = int(np.prod(ref.shape[1:], dtype=np.int64))
    table = np.ascontiguousarray(ref).reshape(ref.shape[0], inner)
    out = np.empty((idx.shape[0], inner), dtype=out_dtype)
    if out.size:
        _module().gather_rows(table, idx, out)
    return out.reshape(out_shape)


def _gather_reference(arrays, attrs, out_shape, out_dtype):
    ref, idx = arrays
    idx = np.asarray(idx, dtype=np.int64)
    _check_range(idx, ref.shape[0], "gather index")  # negative indices do not wrap
    return np.take(ref, idx, axis=0)


GATHER = register(Op(
    "gather", KERNEL, _gather_infer, _gather_reference, kernel=_gather_kernel,
    doc="rows of a tensor at integer indices (axis 0); indices validated"))


def gather(reference, indices) -> Tensor:
    reference = as_tensor(reference)
    indices = as_tensor(indices)
    return reference.graph.make(GATHER, (reference, indices))


# -- pick ---------------------------------------------------------------------------------
def _pick_infer(in_shapes, in_dtypes, attrs):
    x, idx = in_shapes
    if x is None or idx is None or len(x) != len(idx) + 1:
        raise ValueError(f"pick takes x of rank r+1 and indices of rank r, got ranks "
                         f"{None if x is None else len(x)} and "
                         f"{None if idx is None else len(idx)}")
    _int_indices(in_dtypes[1], "class indices")
    out = []
    for a, b in zip(x[:-1], idx):
        if a is not None and b is not None and a != b:
            raise ValueError(f"indices of shape {tuple(idx)} do not match x's leading dims "
                             f"{tuple(x[:-1])}")
        out.append(a if a is not None else b)
    return tuple(out), in_dtypes[0]


def _pick_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    x, idx = args
    n_classes = x.shape[-1]
    idx = np.ascontiguousarray(idx, dtype=np.int64).reshape(-1)
    _check_range(idx, n_classes, "class index")
    table = np.ascontiguousarray(x).reshape(-1, n_classes)
    out = np.empty(idx.shape[0], dtype=out_dtype)
    if out.size:
        _module().pick_last(table, idx, out)
    return out.reshape(out_shape)


def _pick_reference(arrays):
    x, idx = arrays[0], np.asarray(arrays[1], dtype=np.int64)
    _check_range(idx, x.shape[-1], "class index")
    return np.take_along_axis(x, idx[..., None], axis=-1)[..., 0]


PICK = register(Op(
    "pick", KERNEL, _pick_infer,
    lambda arrays, attrs, out_shape, out_dtype: _pick_reference(arrays),
    kernel=_pick_kernel,
    doc="x[..., i] with one index i per row (last axis); indices validated"))


def pick(x: Tensor, indices: Tensor) -> Tensor:
    return x.graph.make(PICK, (x, indices))


# -- in_top_k -----------------------------------------------------------------------------
def _in_top_k_infer(in_shapes, in_dtypes, attrs):
    pred, target = in_shapes
    if pred is None or len(pred) != 2:
        raise ValueError("predictions must have rank 2 (batch, classes)")
    if target is None or len(target) != 1:
        raise ValueError("targets must have rank 1 (batch,)")
    if pred[0] is not None and target[0] is not None and pred[0] != target[0]:
        raise ValueError(f"batch sizes differ: {pred[0]} vs {target[0]}")
    if dtypes.kind_rank(in_dtypes[0]) < 2:
        raise TypeError(f"predictions must be floats, got {in_dtypes[0]}")
    _int_indices(in_dtypes[1], "targets")
    return (pred[0] if pred[0] is not None else target[0],), "bool"


def _in_top_k_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    pred = np.ascontiguousarray(args[0], dtype=np.float64)
    target = np.ascontiguousarray(args[1], dtype=np.int64)
    out = np.empty(out_shape, dtype=np.bool_)
    if out.size:
        _module().in_top_k(pred, target, attrs["k"], out)
    return out


def _in_top_k_reference(arrays, attrs, out_shape, out_dtype):
    pred, target = arrays
    out = np.zeros(out_shape, dtype=bool)
    for b in range(pred.shape[0]):
        t = int(target[b])
        if 0 <= t < pred.shape[1] and np.isfinite(pred[b]).all():
            out[b] = np.sum(pred[b] > pred[b, t]) < attrs["k"]
    return out


IN_TOP_K = register(Op(
    "in_top_k", KERNEL, _in_top_k_infer, _in_top_k_reference, kernel=_in_top_k_kernel,
    grad=NOT_DIFFERENTIABLE,
    doc="whether each row's target class is among its k largest predictions (ties count)"))


def in_top_k(predictions, targets, k: int) -> Tensor:
    predictions = as_tensor(predictions)
    targets = as_tensor(targets)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise op_error(DTypeError, "in_top_k", [predictions, targets],
                       f"k must be an int, got {k!r}")
    if k < 0:
        raise op_error(ShapeError, "in_top_k", [predictions, targets], f"k={k} is negative")
    return predictions.graph.make(IN_TOP_K, (predictions, targets), {"k": int(k)})


# -- scatter-add of rows (gather's gradient) and of picked entries ---------------------------------
_SCATTER_SOURCE = '''from numba import njit


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
    g, idx = args[0], args[1]
    idx = np.ascontiguousarray(idx, dtype=np.int64).reshape(-1)
    n = out_shape[0]
    _check_range(idx, n, "gather index")
    inner = int(np.prod(out_shape[1:], dtype=np.int64))
    out = np.zeros((n, inner), dtype=out_dtype)
    if idx.size and inner:
        g2 = np.ascontiguousarray(g, dtype=out_dtype).reshape(idx.shape[0], inner)
        cache.load(_SCATTER_SOURCE).scatter_rows(g2, idx, out)
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
    grad=lambda node, g: (gather(g, node.inputs[1]), None, None),
    doc="rows of input 0 added into zeros of input 2's shape at indices input 1"))


def _scatter_pick_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    g, idx = args[0], args[1]
    n_classes = out_shape[-1]
    idx = np.ascontiguousarray(idx, dtype=np.int64).reshape(-1)
    _check_range(idx, n_classes, "class index")
    out = np.zeros((idx.shape[0], n_classes), dtype=out_dtype)
    if idx.size:
        g1 = np.ascontiguousarray(g, dtype=out_dtype).reshape(-1)
        cache.load(_SCATTER_SOURCE).scatter_pick(g1, idx, out)
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
    grad=lambda node, g: (pick(g, node.inputs[1]), None, None),
    doc="input 0 written into zeros of input 2's shape at one class index per row"))


def scatter_rows(g: Tensor, indices: Tensor, like: Tensor) -> Tensor:
    """Zeros of ``like``'s shape with the rows of ``g`` added at ``indices``."""
    return g.graph.make(SCATTER_ROWS, (g, indices, like))


def scatter_pick(g: Tensor, indices: Tensor, like: Tensor) -> Tensor:
    """Zeros of ``like``'s shape with ``g`` written at one class index per row."""
    return g.graph.make(SCATTER_PICK, (g, indices, like))


# -- gradient rules ------------------------------------------------------------------------------
def _gather_grad(node, g):
    ref, idx = node.inputs
    return scatter_rows(g, idx, ref), None


def _pick_grad(node, g):
    x, idx = node.inputs
    return scatter_pick(g, idx, x), None


define_grad(GATHER, _gather_grad)
define_grad(PICK, _pick_grad)
