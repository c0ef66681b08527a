"""Reductions over axes: sum, prod, max, min, any, all, mean, argmax, argmin.

Each runs as a generated numba loop (``kernels.reductions``) that accumulates
in float64 / int64 and casts once at the end. Semantics follow TF 2.2's Keras
backend: sums keep the input dtype, ``mean`` of ints truncates toward zero, ``mean``
of bool is floatx, empty sums are 0, empty products 1, empty max is -inf, empty mean
NaN, arg-reductions pick the first of tied entries and return int64.
"""

from __future__ import annotations

import numpy as np

from .. import config
from ..core import dtypes
from ..core.shapes import normalize_axes, normalize_axis
from ..core.tensor import Tensor
from ..kernels.reductions import bind_reduction, run_reduction
from .elementwise import binary, cast, where
from .leaves import as_tensor
from .registry import NOT_DIFFERENTIABLE, REDUCE, Op, define_grad, register
from .shape import basic_getitem, broadcast_to, reshape, shape_of
from .shape_defs import refs_of

REDUCTIONS = ("sum", "prod", "max", "min", "any", "all", "mean", "argmax", "argmin")


def reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _out_dtype(kind, dtype):
    if kind in ("any", "all"):
        return "bool"
    if kind in ("argmax", "argmin"):
        return "int64"
    if kind == "mean":
        return config.floatx() if dtype == "bool" else dtype
    if dtype == "bool" and kind in ("sum", "prod"):
        return "int64"
    return dtype


def _infer(kind):
    def infer(in_shapes, in_dtypes, attrs):
        shape = in_shapes[0]
        if shape is None:
            raise ValueError(f"{kind} needs a tensor of known rank")
        for a in attrs["axes"]:
            if a >= len(shape):
                raise ValueError(f"axis {a} is out of range for rank {len(shape)}")
        if kind in ("argmax", "argmin"):
            (axis,) = attrs["axes"]
            if shape[axis] == 0:
                raise ValueError(f"{kind} of an empty axis {axis} is undefined")
        return reduced_shape(shape, attrs["axes"], attrs["keepdims"]), \
            _out_dtype(kind, in_dtypes[0])
    return infer


def _reference(kind):
    def ref(arrays, attrs, out_shape, out_dtype):
        (x,) = arrays
        axes, keepdims = attrs["axes"], attrs["keepdims"]
        with np.errstate(all="ignore"):
            if kind in ("argmax", "argmin"):
                fn = np.argmax if kind == "argmax" else np.argmin
                out = fn(x, axis=axes[0])
                if keepdims:
                    out = np.expand_dims(out, axes[0])
            elif kind == "mean" and dtypes.is_int(x.dtype.name):
                total = np.sum(x, axis=axes, keepdims=keepdims, dtype=np.int64)
                count = int(np.prod([x.shape[a] for a in axes], dtype=object))
                out = np.trunc(total / count) if count else np.zeros_like(total)
            elif kind == "mean":
                out = np.mean(x.astype(np.float64), axis=axes, keepdims=keepdims)
            elif kind in ("max", "min") and x.dtype.kind == "f":
                fn = np.max if kind == "max" else np.min
                fill = -np.inf if kind == "max" else np.inf
                out = fn(x, axis=axes, keepdims=keepdims, initial=fill)
            elif kind in ("max", "min"):
                info = np.iinfo(x.dtype) if x.dtype.kind in "iu" else None
                fn = np.max if kind == "max" else np.min
                fill = (info.min if kind == "max" else info.max) if info else (kind == "min")
                out = fn(x, axis=axes, keepdims=keepdims, initial=fill)
            else:
                fn = {"sum": np.sum, "prod": np.prod, "any": np.any, "all": np.all}[kind]
                acc = np.float64 if x.dtype.kind == "f" and kind in ("sum", "prod") else None
                out = fn(x, axis=axes, keepdims=keepdims, **({"dtype": acc} if acc else {}))
        return np.asarray(out).astype(out_dtype)
    return ref


def _kernel(kind):
    def kernel(args, in_shapes, attrs, out_shape, out_dtype):
        return run_reduction(kind, args[0], attrs["axes"], attrs["keepdims"], out_dtype)
    return kernel


def _binder(kind):
    def bind(in_shapes, in_dtypes, attrs, out_shape, out_dtype):
        bound = bind_reduction(kind, in_shapes[0], in_dtypes[0], attrs["axes"],
                               attrs["keepdims"], out_dtype)
        return None if bound is None else (lambda args: bound(args[0]))
    return bind


#: elements converted to float64 at a time by tier 0's sums (bounds their temporary)
SUM_CHUNK = 1 << 20


def _float64_sum(x, axes):
    """Sum of float ``x`` over ``axes`` in float64 by BLAS matrix-vector products, or
    None unless ``axes`` are a leading or trailing run of a C-contiguous ``x``'s dims.
    BatchNormalization's statistics (sums over N, H, W of NHWC) run ~6x faster than
    NumPy's float64 ``sum``, which steps along the strided axis."""
    rank, count = x.ndim, len(axes)
    leading = axes == tuple(range(count))
    if not x.flags.c_contiguous or not x.size or \
            not (leading or axes == tuple(range(rank - count, rank))):
        return None
    kept = x.shape[count:] if leading else x.shape[:rank - count]
    rows = x.reshape(-1, int(np.prod(kept, dtype=np.int64))) if leading else \
        x.reshape(int(np.prod(kept, dtype=np.int64)), -1)
    step = max(1, SUM_CHUNK // max(1, rows.shape[1]))
    parts = (rows[start:start + step].astype(np.float64, copy=False)  # one at a time
             for start in range(0, rows.shape[0], step))
    if leading:  # column sums: one partial per chunk of rows, added in order
        total = np.zeros(rows.shape[1])
        for part in parts:
            total += np.ones(len(part)) @ part
        return total
    ones = np.ones(rows.shape[1])
    return np.concatenate([part @ ones for part in parts])


def _tier0(kind):
    """Tier 0's sum/mean (``runtime.tiered``): :func:`_float64_sum` where it applies,
    else the reference (both accumulate in float64)."""
    reference = _reference(kind)

    def run(args, in_shapes, attrs, out_shape, out_dtype):
        (x,) = args
        total = _float64_sum(x, attrs["axes"]) if x.dtype.kind == "f" else None
        if total is None:
            return reference(args, attrs, out_shape, out_dtype)
        if kind == "mean":
            total /= np.prod([x.shape[a] for a in attrs["axes"]], dtype=np.float64)
        return total.reshape(out_shape).astype(out_dtype)
    return run


OPS = {}
for _kind in REDUCTIONS:
    OPS[_kind] = register(Op(
        _kind, REDUCE, _infer(_kind), _reference(_kind), kernel=_kernel(_kind),
        extra={"bind": _binder(_kind),
               **({"tier0": _tier0(_kind)} if _kind in ("sum", "mean") else {})},
        **({"grad": NOT_DIFFERENTIABLE} if _kind in ("any", "all", "argmax", "argmin") else {}),
        doc=f"{_kind} over axes"))


def reduce(kind: str, x, axis=None, keepdims: bool = False) -> Tensor:
    """Build a reduction node; ``axis`` is None, an int or a list/tuple (negative ok)."""
    x = as_tensor(x)
    if x.shape is None:
        from ..errors import ShapeError

        raise ShapeError(f"{kind}: the input's rank is unknown")
    if kind == "mean" and x.dtype == "bool":  # Keras: bool is cast to floatx first
        x = cast(x, config.floatx())
    ndim = len(x.shape)
    try:
        if kind in ("argmax", "argmin"):
            axes = (normalize_axis(axis, ndim),)
        else:
            axes = normalize_axes(axis, ndim)
    except ValueError as exc:
        from ..errors import ShapeError, op_error

        raise op_error(ShapeError, kind, [x], str(exc)) from None
    if not axes and kind not in ("argmax", "argmin"):
        return cast(x, _out_dtype(kind, x.dtype))  # cast returns x when the dtype matches
    return x.graph.make(OPS[kind], (x,), {"axes": axes, "keepdims": bool(keepdims)})


# -- gradient rules ------------------------------------------------------------------------------
def expand_reduced(g: Tensor, x: Tensor, axes, keepdims: bool) -> Tensor:
    """A reduction's output gradient broadcast back to the input's shape."""
    rank = len(x.shape)
    if not keepdims:
        target = tuple(1 if i in axes else ((1, i),) for i in range(rank))
        g = reshape(g, target, shape_sources=(x,))
    return broadcast_to(g, refs_of(1, rank), shape_sources=(x,))


def count_of(x: Tensor, axes, dtype: str) -> int | Tensor:
    """The number of elements over ``axes`` of ``x``: an int when static, else a
    run-time scalar tensor of ``dtype``."""
    dims = [x.shape[a] for a in axes]
    if None not in dims:
        return int(np.prod(dims, dtype=np.int64))
    shape = shape_of(x)
    count = None
    for a in axes:
        d = basic_getitem(shape, a)
        count = d if count is None else count * d
    return cast(count, dtype)


def _expanded(node, g):
    return expand_reduced(g, node.inputs[0], node.attrs["axes"], node.attrs["keepdims"])


def _sum_grad(node, g):
    return (_expanded(node, g),)


def _mean_grad(node, g):
    x = node.inputs[0]
    return (_expanded(node, g) / count_of(x, node.attrs["axes"], g.dtype),)


def _extreme_grad(node, g):
    """max/min: the gradient is shared equally among tied extreme entries."""
    x, axes = node.inputs[0], node.attrs["axes"]
    y_keep = reduce(node.op.name, x, axes, True)
    mask = cast(binary("equal", x, expand_reduced(y_keep, x, axes, True)), g.dtype)
    return (_expanded(node, g) * mask / reduce("sum", mask, axes, True),)


def _prod_grad(node, g):
    """d prod / d x_i = product of the other entries, also when some are zero."""
    x, axes = node.inputs[0], node.attrs["axes"]
    is_zero = binary("equal", x, 0)
    nonzero = where(is_zero, 1, x)
    prod_nz = expand_reduced(reduce("prod", nonzero, axes, True), x, axes, True)
    zeros = expand_reduced(reduce("sum", cast(is_zero, "int32"), axes, True), x, axes, True)
    others = where(binary("equal", zeros, 0), prod_nz / nonzero,
                   where(binary("logical_and", binary("equal", zeros, 1), is_zero), prod_nz, 0))
    return (_expanded(node, g) * others,)


for _kind, _rule in (("sum", _sum_grad), ("mean", _mean_grad), ("max", _extreme_grad),
                     ("min", _extreme_grad), ("prod", _prod_grad)):
    define_grad(OPS[_kind], _rule)
