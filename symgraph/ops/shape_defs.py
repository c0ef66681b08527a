"""The shape ops' registry entries: reshape, transpose, broadcast_to, getitem (basic
indexing), concatenate and ``shape``, each with its shape rule, NumPy reference and
kernel, and the dim expressions of reshape and broadcast targets.

Their builders are in :mod:`symgraph.ops.shape`; they convert operands with
``leaves.as_tensor``, which stacks a list of tensors with ``getitem`` and
``concatenate`` nodes built from these entries, so this module imports no other op
family. Gradient rules are in :mod:`symgraph.ops.shape_grad`.

Reshape and broadcast targets may refer to dims of other tensors, so a target like
"x's dims but the last two merged" works while those dims are still unknown
(``None``): each entry of a target is an int (``-1`` once, for "the rest") or a tuple
of ``(input_index, axis)`` pairs whose dims multiply. Those extra inputs are read for
their shape only.
"""

from __future__ import annotations

import numpy as np

from ..core.shapes import num_elements
from ..kernels.copies import contiguous
from .dims import is_expr, is_value, resolve_entry
from .registry import KERNEL, NOT_DIFFERENTIABLE, VIEW, Op, register


# -- dim expressions ----------------------------------------------------------------
def resolve_target(target, in_shapes):
    """Evaluate a target spec against input shapes (static or concrete): ints stay,
    dim entries (``ops.dims``) become their size, or None while a dim is unknown."""
    dims = []
    for entry in target:
        if type(entry) is int:
            dims.append(entry)
            continue
        value = resolve_entry(entry, in_shapes)
        if value is not None:
            if value != int(value) or value < 0:
                raise ValueError(f"a size computed at run time is {value}, not a size >= 0")
            value = int(value)
        dims.append(value)
    return dims


def _cancelled_rest(target, in_shapes):
    """The ``-1`` of a reshape whose other entries are products of the input's own dims
    (``[K.shape(x)[0], -1]``): the input's dims they do not use, when all known."""
    src, divisor = list(in_shapes[0]), 1
    factors = [e for e in target if e != -1]
    while factors:
        entry = factors.pop()
        if type(entry) is int:
            divisor *= entry
            continue
        if is_value(entry):
            return None
        if is_expr(entry):
            if entry[1] != "*":
                return None
            factors += [entry[2], entry[3]]  # (a * b): both are factors
            continue
        for s, axis in entry:
            if s != 0 or src[axis] is False:
                return None
            src[axis] = False  # used once
    rest = [d for d in src if d is not False]
    if any(d is None for d in rest) or divisor == 0 or num_elements(tuple(rest)) % divisor:
        return None
    return num_elements(tuple(rest)) // divisor


def dim_refs(tensor_index: int, axes) -> tuple:
    """One dim entry multiplying the dims ``axes`` of shape source ``tensor_index``."""
    return tuple((tensor_index, a) for a in axes)


def refs_of(index: int, rank: int) -> tuple:
    """A reshape/broadcast target copying every dim of shape source ``index``."""
    return tuple(((index, i),) for i in range(rank))


# -- reshape ------------------------------------------------------------------------
def _reshape_infer(in_shapes, in_dtypes, attrs):
    src = in_shapes[0]
    if src is None:
        raise ValueError("reshape needs an input of known rank")
    for a in attrs.get("unit_axes", ()):
        if src[a] not in (None, 1):
            raise ValueError(f"axis {a} has size {src[a]}, not 1")
    dims = resolve_target(attrs["target"], in_shapes)
    if dims.count(-1) > 1:
        raise ValueError("only one -1 is allowed in a reshape target")
    total = num_elements(src)
    if -1 in dims:
        known = 1
        for d in dims:
            if d is None:
                known = None
                break
            if d != -1:
                known *= d
        i = dims.index(-1)
        if total is None or known is None:
            dims[i] = _cancelled_rest(attrs["target"], in_shapes)
        elif known == 0 and _cancelled_rest(attrs["target"], in_shapes) is not None:
            # an empty batch: [K.shape(x)[0], -1] still means x's other dims
            dims[i] = _cancelled_rest(attrs["target"], in_shapes)
        elif known == 0 or total % known:
            raise ValueError(f"cannot reshape {total} elements into {tuple(dims)}")
        else:
            dims[i] = total // known
    elif total is not None and None not in dims and num_elements(tuple(dims)) != total:
        raise ValueError(f"cannot reshape {total} elements into shape {tuple(dims)}")
    return tuple(dims), in_dtypes[0]


def _reshape_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    return contiguous(args[0]).reshape(out_shape)


RESHAPE = register(Op(
    "reshape", VIEW, _reshape_infer,
    lambda arrays, attrs, out_shape, out_dtype: np.reshape(arrays[0], out_shape),
    data_inputs=(0,), kernel=_reshape_kernel,
    doc="reshape to a target that may refer to other tensors' dims (read for shape only)"))


# -- transpose ----------------------------------------------------------------------
def _transpose_infer(in_shapes, in_dtypes, attrs):
    shape, perm = in_shapes[0], attrs["perm"]
    if shape is None or len(perm) != len(shape) or sorted(perm) != list(range(len(shape))):
        raise ValueError(f"pattern {perm} is not a permutation of the input's axes")
    return tuple(shape[p] for p in perm), in_dtypes[0]


TRANSPOSE = register(Op(
    "transpose", VIEW, _transpose_infer,
    lambda arrays, attrs, out_shape, out_dtype: np.transpose(arrays[0], attrs["perm"]),
    kernel=lambda args, in_shapes, attrs, out_shape, out_dtype: args[0].transpose(attrs["perm"]),
    doc="permute axes (a strided view, no copy)"))


# -- broadcast_to -------------------------------------------------------------------
def _broadcast_infer(in_shapes, in_dtypes, attrs):
    src = in_shapes[0]
    dims = resolve_target(attrs["target"], in_shapes)
    if src is None or len(src) > len(dims):
        raise ValueError(f"cannot broadcast to rank {len(dims)}")
    padded = (1,) * (len(dims) - len(src)) + tuple(src)
    for s, d in zip(padded, dims):
        if s is not None and d is not None and s != 1 and s != d:
            raise ValueError(f"cannot broadcast dim {s} to {d}")
    return tuple(dims), in_dtypes[0]


BROADCAST_TO = register(Op(
    "broadcast_to", VIEW, _broadcast_infer,
    lambda arrays, attrs, out_shape, out_dtype: np.broadcast_to(arrays[0], out_shape),
    data_inputs=(0,),
    kernel=lambda args, in_shapes, attrs, out_shape, out_dtype: np.broadcast_to(args[0],
                                                                                out_shape),
    # a zero-stride view of input 0: fused loops read that input at its own extent
    # instead (runtime.runner), indexing the broadcast dims with 0
    extra={"broadcast_view": True},
    doc="broadcast to a larger shape (a zero-stride view, no copy)"))


# -- getitem (basic indexing) ---------------------------------------------------------
def _slice_len(dim, start, stop, step):
    if dim is None:
        return None  # depends on the run-time size
    return len(range(*slice(start, stop, step).indices(dim)))


def _getitem_infer(in_shapes, in_dtypes, attrs):
    shape = in_shapes[0]
    if shape is None:
        raise ValueError("indexing needs an input of known rank")
    out, axis = [], 0
    for item in attrs["index"]:
        kind = item[0]
        if kind == "newaxis":
            out.append(1)
        elif kind == "int":
            d, i = shape[axis], item[1]
            if d is not None and not -d <= i < d:
                raise ValueError(f"index {i} is out of bounds for axis {axis} with size {d}")
            axis += 1
        else:
            _, start, stop, step = item[:4]
            d = shape[axis]
            if len(item) == 5 and d is not None and (start > d or (stop or 0) > d):
                # ("slice", start, stop, 1, "strict"): K.slice, whose range must fit (TF)
                raise ValueError(f"start {start} with size "
                                 f"{'-1' if stop is None else stop - start} is out of range "
                                 f"for axis {axis} of size {d}")
            out.append(_slice_len(d, start, stop, step))
            axis += 1
    out.extend(shape[axis:])
    return tuple(out), in_dtypes[0]


def numpy_index(index):
    """The NumPy index of a ``getitem`` node's ``index`` attribute."""
    out = []
    for item in index:
        if item[0] == "newaxis":
            out.append(None)
        elif item[0] == "int":
            out.append(item[1])
        else:  # a 5th entry ("strict") only changes the shape rule
            out.append(slice(item[1], item[2], item[3]))
    return tuple(out)


GETITEM = register(Op(
    "getitem", VIEW, _getitem_infer,
    lambda arrays, attrs, out_shape, out_dtype: arrays[0][numpy_index(attrs["index"])],
    kernel=lambda args, in_shapes, attrs, out_shape, out_dtype:
        args[0][numpy_index(attrs["index"])],
    doc="basic indexing: ints, slices with steps, None, Ellipsis (a view, no copy)"))


# -- concatenate --------------------------------------------------------------------
def _concat_infer(in_shapes, in_dtypes, attrs):
    axis = attrs["axis"]
    first = in_shapes[0]
    if any(s is None for s in in_shapes):
        raise ValueError("concatenate needs inputs of known rank")
    if any(len(s) != len(first) for s in in_shapes):
        raise ValueError("all inputs must have the same rank")
    if len(set(in_dtypes)) != 1:
        raise TypeError(f"all inputs must have the same dtype, got {sorted(set(in_dtypes))}")
    out = []
    for d in range(len(first)):
        dims = [s[d] for s in in_shapes]
        if d == axis:
            out.append(None if None in dims else sum(dims))
            continue
        known = {v for v in dims if v is not None}
        if len(known) > 1:
            raise ValueError(f"dimension {d} differs between inputs: {dims}")
        out.append(known.pop() if known else None)
    return tuple(out), in_dtypes[0]


def _concat_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    # a plain copy (the inputs share the output's dtype): NumPy's memcpy loops, ~1 us
    # for a GRU's three gate gradients where a numba copy kernel per part took ~10 us
    out = np.empty(out_shape, dtype=out_dtype)
    np.concatenate(args, axis=attrs["axis"], out=out, casting="equiv")
    return out


CONCATENATE = register(Op(
    "concatenate", KERNEL, _concat_infer,
    lambda arrays, attrs, out_shape, out_dtype: np.concatenate(arrays, axis=attrs["axis"]),
    kernel=_concat_kernel, doc="join tensors along an axis (numba copy kernels)"))


# -- shape ----------------------------------------------------------------------------
def _shape_infer(in_shapes, in_dtypes, attrs):
    if in_shapes[0] is None:
        return (None,), "int32"
    return (len(in_shapes[0]),), "int32"


SHAPE_OF = register(Op(
    "shape", KERNEL, _shape_infer,
    lambda arrays, attrs, out_shape, out_dtype: np.array(arrays[0].shape, dtype=np.int32),
    data_inputs=(),
    kernel=lambda args, in_shapes, attrs, out_shape, out_dtype:
        np.array(in_shapes[0], dtype=np.int32),
    grad=NOT_DIFFERENTIABLE, doc="the run-time shape as an int32 vector (reads shape only)"))
