"""Leaf ops: placeholders (fed), variables (hold data) and constants (fixed data)."""

from __future__ import annotations

import numpy as np

from ..core import dtypes, services
from ..core.graph import get_default_graph, make_leaf
from ..core.shapes import check_size, normalize_shape
from ..core.tensor import Constant, ConstValue, Placeholder, Tensor, Variable
from .registry import LEAF, NOT_DIFFERENTIABLE, Op, register
from .shape_defs import CONCATENATE, GETITEM


def _leaf_infer(in_shapes, in_dtypes, attrs):
    raise TypeError("leaves are created directly, not inferred")


def _no_reference(arrays, attrs, out_shape, out_dtype):
    raise TypeError("leaves have no reference: their values come from feeds or storage")


PLACEHOLDER = register(Op(
    "placeholder", LEAF, _leaf_infer, _no_reference, grad=NOT_DIFFERENTIABLE,
    doc="graph input, fed when a function runs"))
VARIABLE = register(Op(
    "variable", LEAF, _leaf_infer, _no_reference, grad=NOT_DIFFERENTIABLE,
    doc="mutable tensor holding data; its gradient is what K.gradients computes"))
CONSTANT = register(Op(
    "constant", LEAF, _leaf_infer, _no_reference, grad=NOT_DIFFERENTIABLE,
    doc="fixed value known at build time"))


def placeholder(shape, dtype: str, name: str | None = None) -> Placeholder:
    """Create a placeholder of static ``shape`` (None dims allowed; ``shape=None``:
    unknown rank)."""
    if shape is not None:
        shape = normalize_shape(shape)
    return make_leaf(get_default_graph(), PLACEHOLDER, Placeholder, shape,
                     dtypes.normalize(dtype), name or "placeholder")


def variable(value, dtype: str, name: str | None = None) -> Variable:
    """Create a variable holding a copy of ``value`` cast to ``dtype``."""
    if isinstance(value, Tensor):
        value = services.evaluate(value)
    dtype = dtypes.normalize(dtype)
    numeric_value(value, "variable")
    array = np.array(value, dtype=dtype, copy=True)  # from the value: ints out of range raise
    check_size(array.shape)
    return make_leaf(get_default_graph(), VARIABLE, Variable, tuple(array.shape), dtype,
                     name or "variable", value=array)


def numeric_value(value, what: str):
    """``value`` as an array of numbers or bools; ``None``, text, objects and ragged
    lists are errors (NumPy would turn ``None`` into NaN when cast to a float)."""
    from ..errors import DTypeError, op_error

    if value is None:
        raise op_error(DTypeError, what, [], "the value is None; pass a number or an array")
    try:
        array = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise op_error(DTypeError, what, [], f"the value is not an array of numbers: {exc}") \
            from None
    if array.dtype.kind not in "biufc":
        raise op_error(DTypeError, what, [],
                       f"the value must hold numbers or bools, got {array.dtype} "
                       f"({type(value).__name__})")
    return array


def constant(value, dtype: str, name: str | None = None, graph=None) -> Constant:
    """Create (or reuse) a constant holding ``value`` cast to ``dtype``, in ``graph``
    (default: the default graph; graph passes give the graph they rewrite)."""
    kind = type(value)
    if name is None and (kind is float or kind is int) and type(dtype) is str:
        # Python scalars (``x * 0.5``) come back on every op call: find their node by
        # value before building the array and ConstValue that key the graph's table.
        # The key holds the type (1 and 1.0 cast alike, but not when out of range) and
        # -0.0 as text (-0.0 == 0.0 with one hash, yet it is another constant). A NaN
        # only hits itself (NaN != NaN); a miss still finds its node by bytes. dtype is
        # a string as given (an alias gets its own entry for the same node; None, whose
        # meaning follows floatx, never gets here).
        graph = graph or get_default_graph()
        skey = (kind, value if value or kind is int else str(value), dtype)
        found = graph.scalar_constants.get(skey)
        if found is None:
            found = _constant(value, dtypes.normalize(dtype), name, graph)
            graph.scalar_constants[skey] = found
        return found
    return _constant(value, dtypes.normalize(dtype), name, graph)


def _constant(value, dtype: str, name: str | None, graph=None) -> Constant:
    numeric_value(value, "constant")
    array = np.array(value, dtype=dtype)
    check_size(array.shape)
    cval = ConstValue(array)
    key = ("constant", (), (("value", cval),), name)
    return make_leaf(graph or get_default_graph(), CONSTANT, Constant, tuple(array.shape),
                     dtype, name or "constant", attrs={"value": cval}, key=key)


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """Turn a tensor, Python scalar or array into a tensor. A Python scalar next to
    ``like`` takes a weak dtype (``x * 2.0`` keeps x's float32)."""
    if isinstance(x, Tensor):
        return x
    kind = type(x)
    if like is not None and (kind is float or kind is int):  # the common case first
        partner = like.dtype
        if partner in (_FLOATS if kind is float else _NUMBERS):  # the partner's dtype
            return constant(x, partner)
        return constant(x, dtypes.weak_scalar_dtype(x, partner))  # a wider kind
    if isinstance(x, (bool, int, float, np.generic)) and not isinstance(x, np.ndarray):
        if like is not None and not isinstance(x, np.generic):
            return constant(x, dtypes.weak_scalar_dtype(x, like.dtype))
        if isinstance(x, np.generic):
            return constant(x, x.dtype.name)
        if isinstance(x, bool):
            return constant(x, "bool")
        if isinstance(x, int):
            return constant(x, "int32" if -2**31 <= x < 2**31 else "int64")
        return constant(x, like.dtype if like is not None and dtypes.is_float(like.dtype)
                        else "float32")
    if isinstance(x, (list, tuple)) and _holds_tensor(x):
        return _pack(x, like)
    if isinstance(x, (list, tuple, np.ndarray)):
        array = np.asarray(x)
        if array.dtype.kind == "f" and like is not None and dtypes.is_float(like.dtype) \
                and not isinstance(x, np.ndarray):
            return constant(array, like.dtype)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"cannot make a tensor from {type(x).__name__} of dtype {array.dtype}")
        if array.dtype == np.float64 and not isinstance(x, np.ndarray):
            return constant(array, "float32")
        return constant(array, array.dtype.name)
    raise TypeError(f"expected a tensor, number or array, got {type(x).__name__}")


# dtypes a weak Python float / int takes as they are (dtypes.weak_scalar_dtype)
_FLOATS = frozenset(d for d in dtypes.SUPPORTED if dtypes.kind_rank(d) == 2)
_NUMBERS = frozenset(d for d in dtypes.SUPPORTED if dtypes.kind_rank(d) >= 1)


def _holds_tensor(x) -> bool:
    return any(isinstance(e, Tensor) or (isinstance(e, (list, tuple)) and _holds_tensor(e))
               for e in x)


def _pack(x, like: Tensor | None) -> Tensor:
    """A (nested) list holding tensors, stacked along a new leading axis, as TF's
    ``convert_to_tensor`` does (Keras 2 writes ``K.prod([K.shape(x)[i] for i in axes])``).
    Python numbers in it take the dtype of the first tensor; dtypes must agree."""
    if not x:
        raise ValueError("cannot stack an empty list that holds tensors")
    ref = _first_tensor(x)
    ref = like if ref is None else ref
    items = [_pack_item(e, ref) for e in x]
    dtypes_seen = {t.dtype for t in items}
    if len(dtypes_seen) > 1:
        raise TypeError("cannot stack a list of tensors of different dtypes "
                        f"{sorted(dtypes_seen)}: cast them first")
    shapes = [t.shape for t in items]
    if any(s is None for s in shapes) or len({len(s) for s in shapes}) > 1:
        raise ValueError(f"cannot stack a list of tensors of shapes {shapes}: ranks differ")
    # t[None] for each, joined on axis 0: the nodes ops.shape's basic_getitem and
    # concatenate build, made from their entries (those builders call as_tensor)
    rows = [t.graph.make(GETITEM, (t,), {"index": (("newaxis",),)}) for t in items]
    return rows[0] if len(rows) == 1 else rows[0].graph.make(CONCATENATE, tuple(rows),
                                                             {"axis": 0})


def _pack_item(e, ref: Tensor | None) -> Tensor:
    if isinstance(e, Tensor):
        return e
    if isinstance(e, (list, tuple)) and _holds_tensor(e):
        return _pack(e, ref)
    if ref is None or isinstance(e, (np.ndarray, np.generic)):
        return as_tensor(e)
    array = np.asarray(e)  # Python numbers take the tensors' dtype
    if array.dtype.kind not in "biuf":
        raise TypeError(f"cannot make a tensor from {type(e).__name__} of dtype {array.dtype}")
    if array.dtype.kind == "f" and not dtypes.is_float(ref.dtype):
        raise TypeError(f"cannot stack the float value {e!r} with {ref.dtype} tensors")
    return constant(array, ref.dtype)


def _first_tensor(x) -> Tensor | None:
    for e in x:
        if isinstance(e, Tensor):
            return e
        if isinstance(e, (list, tuple)):
            found = _first_tensor(e)
            if found is not None:
                return found
    return None
