"""Indexing with scalar int tensors: ``x[i]`` and ``x[i:j]`` where ``i``/``j`` are
tensors (a loop counter in a ``map_fn`` step, an ``argmin``, ``K.shape(y)[0]``).

``x[i]`` needs no dynamic shape (the axis goes away): it is a gather of that axis.
``x[i:j]`` is a gather of ``start + step * arange(length)`` with Python's slice rules
(negative bounds count from the end, bounds are clipped to the axis). Its length is a
dim entry (``ops.dims``): resolved from shapes when the bounds are computed from shapes,
or a data-dependent shape when they are data.

:func:`getitem` is ``x[key]`` for any key: it hands basic keys to ``ops.shape``.
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor
from ..errors import DTypeError, ShapeError, op_error
from . import dims
from .elementwise import binary, cast, where
from .indexing import gather
from .leaves import as_tensor, constant
from .scan import cumulative
from .shape import basic_getitem, broadcast_to, shape_of, transpose


def _scalar_int(x: Tensor, k: Tensor) -> Tensor:
    if k.shape != () or not k.dtype.startswith(("int", "uint")):
        raise op_error(DTypeError, "getitem", [x, k],
                       f"a tensor index must be a scalar int tensor, got shape {k.shape} "
                       f"{k.dtype} (K.gather for tensor indices)")
    return cast(k, "int64")


def iota(length, sources=()) -> Tensor:
    """``0, 1, ..., length - 1`` (int64) for a dim entry ``length`` over ``sources``
    (entries number them from 1: input 0 is the broadcast scalar)."""
    ones = broadcast_to(constant(np.ones((), "int64"), "int64"), (length,), sources)
    return binary("subtract", cumulative("cumsum", ones, 0), 1)


def _bound(value: Tensor, size: Tensor, step: int) -> Tensor:
    """Python's slice bound ``value`` on an axis of ``size``: from the end when
    negative, clipped to ``[0, size]`` (``[-1, size - 1]`` for a negative step)."""
    low, high = (-1, binary("add", size, -1)) if step < 0 else (0, size)
    wrapped = where(binary("less", value, 0), binary("add", value, size), value)
    return binary("minimum", binary("maximum", wrapped, low), high)


def _slice_positions(x: Tensor, axis: int, key: slice) -> Tensor:
    step = 1 if key.step is None else key.step
    if isinstance(step, Tensor) or isinstance(step, bool) or not hasattr(step, "__index__"):
        raise op_error(DTypeError, "getitem", [x],
                       f"a slice step must be an int when a bound is a tensor, got {step!r}")
    step = int(step)
    if step == 0:
        raise op_error(ShapeError, "getitem", [x], "slice step cannot be zero")
    size = cast(basic_getitem(shape_of(x), axis), "int64")
    start, stop = (v if v is None or isinstance(v, Tensor) else
                   constant(np.int64(int(v.__index__())), "int64") for v in (key.start, key.stop))
    # omitted bounds: Python's defaults for the step's direction
    if start is None:
        start = binary("add", size, -1) if step < 0 else constant(np.int64(0), "int64")
    else:
        start = _bound(_scalar_int(x, start), size, step)
    if stop is None:
        stop = constant(np.int64(-1), "int64") if step < 0 else size
    else:
        stop = _bound(_scalar_int(x, stop), size, step)
    span = binary("subtract", stop, start)
    # ceil(span / step) elements, none when negative
    length = binary("maximum", binary("floor_divide", binary("add", span, step - np.sign(step)),
                                      step), 0)
    col = dims.Collector(offset=1, context=[x])  # input 0 of iota's broadcast: its scalar
    (entry,) = dims.shape_argument([length], col, "getitem", what="slice length")
    return binary("add", start, binary("multiply", iota(entry, col.sources), step))


def getitem(x, key) -> Tensor:
    """``x[key]`` (what ``ops.getitem`` and a tensor's ``[]`` build): basic indexing
    (``ops.shape.basic_getitem``: one view node), or with scalar int tensors among the
    items, :func:`getitem_with_tensors`."""
    items = key if isinstance(key, tuple) else (key,)
    if not any(isinstance(k, Tensor) or (isinstance(k, slice) and any(
            isinstance(v, Tensor) for v in (k.start, k.stop, k.step))) for k in items):
        return basic_getitem(x, key)
    x = as_tensor(x)
    if x.shape is None:
        raise op_error(ShapeError, "getitem", [x], "the input's rank is unknown")
    return getitem_with_tensors(x, items)


def getitem_with_tensors(x: Tensor, items: tuple) -> Tensor:
    """``x[items]`` where some items are scalar int tensors or slices with tensor bounds:
    the other items first (those axes kept whole), then one gather per tensor item."""
    kept, dynamic, axis = [], [], 0
    n_axes = sum(1 for k in items if k is not None and k is not Ellipsis)
    for k in items:
        if isinstance(k, Tensor):
            dynamic.append((axis, k))
            kept.append(slice(None))
            axis += 1
        elif isinstance(k, slice) and any(isinstance(v, Tensor)
                                          for v in (k.start, k.stop, k.step)):
            dynamic.append((axis, k))
            kept.append(slice(None))
            axis += 1
        elif k is None:
            kept.append(k)
            axis += 1
        elif k is Ellipsis:
            kept.append(k)
            axis += len(x.shape) - n_axes
        elif isinstance(k, slice):
            kept.append(k)
            axis += 1
        else:
            kept.append(k)  # an int: the axis goes away
    out = basic_getitem(x, tuple(kept))
    # later axes first, so that the positions of earlier ones do not move
    for position, key in reversed(dynamic):
        if isinstance(key, Tensor):
            index = _scalar_int(x, key)
            size = cast(basic_getitem(shape_of(out), position), "int64")
            positions = where(binary("less", index, 0), binary("add", index, size), index)
            perm = (position,) + tuple(a for a in range(len(out.shape)) if a != position)
            out = gather(transpose(out, perm), positions)
            continue
        positions = _slice_positions(out, position, key)
        perm = (position,) + tuple(a for a in range(len(out.shape)) if a != position)
        back = tuple(perm.index(a) for a in range(len(out.shape)))
        out = transpose(gather(transpose(out, perm), positions), back)
    return out
