"""Leaf ops: placeholders (fed), variables (hold data) and constants (fixed data)."""

from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.graph import get_default_graph, make_leaf
from ..core.shapes import check_size, normalize_shape
from ..core.tensor import Constant, ConstValue, Placeholder, Tensor, Variable
from .registry import LEAF, NOT_DIFFERENTIABLE, Op, register


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
        from ..runtime.evaluate import evaluate

        value = evaluate(value)
    dtype = dtypes.normalize(dtype)
    array = np.array(value, dtype=dtype, copy=True)
    check_size(array.shape)
    return make_leaf(get_default_graph(), VARIABLE, Variable, tuple(array.shape), dtype,
                     name or "variable", value=array)


def constant(value, dtype: str, name: str | None = None) -> Constant:
    """Create (or reuse) a constant holding ``value`` cast to ``dtype``."""
    dtype = dtypes.normalize(dtype)
    array = np.array(value, dtype=dtype)
    check_size(array.shape)
    cval = ConstValue(array)
    key = ("constant", (), (("value", cval),), name)
    return make_leaf(get_default_graph(), CONSTANT, Constant, tuple(array.shape), dtype,
                     name or "constant", attrs={"value": cval}, key=key)


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """Turn a tensor, Python scalar or array into a tensor. A Python scalar next to
    ``like`` takes a weak dtype (``x * 2.0`` keeps x's float32)."""
    if isinstance(x, Tensor):
        return x
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
