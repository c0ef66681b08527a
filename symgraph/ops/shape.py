"""Shape ops' builders: reshape, transpose, slicing, broadcast (zero-copy views),
concatenate and ``shape`` (reads only its input's shape). Their registry entries
(shape rules, references, kernels) and the dim expressions of targets are in
:mod:`symgraph.ops.shape_defs`; indexing with tensors is :mod:`symgraph.ops.tensor_index`.
"""

from __future__ import annotations

from ..core.shapes import normalize_axis
from ..core.tensor import Tensor
from ..errors import DTypeError, ShapeError, op_error
from .leaves import as_tensor
from .shape_defs import (  # noqa: F401 - resolve_target: ops.conv imports it from here
    BROADCAST_TO,
    CONCATENATE,
    GETITEM,
    RESHAPE,
    SHAPE_OF,
    TRANSPOSE,
    resolve_target,
)


def reshape(x: Tensor, target, shape_sources=(), label: str = "reshape",
            unit_axes: tuple = ()) -> Tensor:
    """``target`` entries: int, -1, or tuples of (input_index, axis) refs where index 0
    is ``x`` and 1.. are ``shape_sources``. ``unit_axes``: axes of ``x`` that must have
    size 1 (squeeze)."""
    target = tuple(e if isinstance(e, tuple) else int(e) for e in target)
    for e in target:
        if isinstance(e, int) and e < -1:
            raise op_error(ShapeError, label, [x], f"negative dimension {e} in target")
    if x.shape is not None and not shape_sources and len(target) == len(x.shape) and all(
            isinstance(e, tuple) and e == ((0, i),) for i, e in enumerate(target)):
        return x
    attrs = {"target": target}
    if unit_axes:
        attrs["unit_axes"] = tuple(unit_axes)
    return x.graph.make(RESHAPE, (x, *shape_sources), attrs)


def transpose(x: Tensor, perm=None) -> Tensor:
    x = as_tensor(x)
    if x.shape is None:
        raise op_error(ShapeError, "transpose", [x], "the input's rank is unknown")
    perm = tuple(reversed(range(len(x.shape)))) if perm is None else tuple(int(p) for p in perm)
    if perm == tuple(range(len(x.shape))):
        return x
    return x.graph.make(TRANSPOSE, (x,), {"perm": perm})


def broadcast_to(x: Tensor, target, shape_sources=()) -> Tensor:
    target = tuple(e if isinstance(e, tuple) else int(e) for e in target)
    return x.graph.make(BROADCAST_TO, (x, *shape_sources), {"target": target})


def basic_getitem(x: Tensor, key) -> Tensor:
    """``x[key]`` for a key of ints, slices, ``None`` and ``...`` (one view node);
    ``ops.getitem`` also takes scalar int tensors (``ops.tensor_index``)."""
    x = as_tensor(x)
    if x.shape is None:
        raise op_error(ShapeError, "getitem", [x], "the input's rank is unknown")
    items = key if isinstance(key, tuple) else (key,)
    n_axes = sum(1 for k in items if k is not None and k is not Ellipsis)
    if sum(1 for k in items if k is Ellipsis) > 1:
        raise op_error(ShapeError, "getitem", [x], "only one Ellipsis is allowed")
    if n_axes > len(x.shape):
        raise op_error(ShapeError, "getitem", [x],
                       f"too many indices ({n_axes}) for a tensor of rank {len(x.shape)}")
    index = []
    for k in items:
        if k is Ellipsis:
            index.extend([("slice", None, None, 1)] * (len(x.shape) - n_axes))
        elif k is None:
            index.append(("newaxis",))
        elif isinstance(k, slice):
            parts = []
            for v in (k.start, k.stop, k.step):
                if v is not None and (isinstance(v, bool) or not hasattr(v, "__index__")):
                    raise op_error(DTypeError, "getitem", [x],
                                   f"slice bounds must be ints or None, got {v!r}")
                parts.append(None if v is None else int(v.__index__()))
            step = 1 if parts[2] is None else parts[2]
            if step == 0:
                raise op_error(ShapeError, "getitem", [x], "slice step cannot be zero")
            index.append(("slice", parts[0], parts[1], step))
        elif hasattr(k, "__index__") and not isinstance(k, bool):
            index.append(("int", int(k.__index__())))
        else:
            raise op_error(DTypeError, "getitem", [x],
                           f"unsupported index {k!r}: use ints, slices, None and ..."
                           " (K.gather for tensor indices)")
    return x.graph.make(GETITEM, (x,), {"index": tuple(index)})


def getitem_parsed(x: Tensor, index: tuple, label: str | None = None) -> Tensor:
    """``getitem`` with an index already in the op's attribute form (``label``: the
    node's name, e.g. the Keras function that built it)."""
    return x.graph.make(GETITEM, (x,), {"index": index}, name=label)


def concatenate(tensors, axis: int = -1) -> Tensor:
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate needs at least one tensor")
    first = tensors[0]
    if first.shape is None:
        raise op_error(ShapeError, "concatenate", tensors, "the first input's rank is unknown")
    try:
        axis = normalize_axis(axis, len(first.shape))
    except ValueError as exc:
        raise op_error(ShapeError, "concatenate", tensors, str(exc)) from None
    if len(tensors) == 1:
        return first
    return first.graph.make(CONCATENATE, tuple(tensors), {"axis": axis})


def shape_of(x: Tensor) -> Tensor:
    x = as_tensor(x)
    return x.graph.make(SHAPE_OF, (x,))
