"""Dtype names, validation and promotion.

symgraph names dtypes with NumPy's strings ('float32', 'int64', 'bool', ...).
Promotion between tensors follows NumPy's rules; a Python scalar is *weak*: it
takes the dtype of the tensor it meets (``x_float32 * 2.0`` stays float32) unless
its kind is wider (``x_int32 * 0.5`` becomes floatx, as in Keras, not float64).
"""

from __future__ import annotations

import functools

import numpy as np

from .. import config
from ..errors import DTypeError

SUPPORTED = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
)
_ALIASES = {"float": "float32", "int": "int32", "double": "float64", "half": "float16"}
_CANONICAL = frozenset(SUPPORTED)


def normalize(dtype) -> str:
    """Turn a dtype given as a string, NumPy dtype or type into its canonical name."""
    if dtype is None:
        return config.floatx()
    if isinstance(dtype, str) and dtype in _CANONICAL:  # canonical already: no lookup
        return dtype
    if isinstance(dtype, str):
        dtype = _ALIASES.get(dtype, dtype)
    try:
        name = np.dtype(dtype).name
    except TypeError as exc:
        raise DTypeError(f"not a dtype: {dtype!r}") from exc
    if name not in SUPPORTED:
        raise DTypeError(f"unsupported dtype {name!r}; symgraph supports {', '.join(SUPPORTED)}")
    return name


def is_float(dtype: str) -> bool:
    return dtype.startswith("float")


def is_int(dtype: str) -> bool:
    return dtype.startswith("int") or dtype.startswith("uint")


def is_bool(dtype: str) -> bool:
    return dtype == "bool"


def kind_rank(dtype: str) -> int:
    """0 for bool, 1 for integers, 2 for floats."""
    rank = _KIND_RANK.get(dtype)  # a table: asked several times per op built
    if rank is None:
        rank = 0 if is_bool(dtype) else (1 if is_int(dtype) else 2)
    return rank


_KIND_RANK = {d: (0 if is_bool(d) else (1 if is_int(d) else 2)) for d in SUPPORTED}


def result_type(*dtypes: str) -> str:
    """NumPy promotion of tensor dtypes (strings)."""
    if len(dtypes) <= 2 and dtypes and dtypes[0] == dtypes[-1] and dtypes[0] in _CANONICAL:
        return dtypes[0]  # one dtype, or two equal ones, promote to themselves
    return _result_type(dtypes)


@functools.lru_cache(maxsize=1024)
def _result_type(dtypes: tuple) -> str:
    return np.result_type(*[np.dtype(d) for d in dtypes]).name


def weak_scalar_dtype(value, partner: str) -> str:
    """Dtype a Python scalar takes next to a tensor of dtype ``partner``."""
    if isinstance(value, (bool, np.bool_)):
        kind = 0
    elif isinstance(value, (int, np.integer)):
        kind = 1
    else:
        kind = 2
    if kind <= kind_rank(partner):
        return partner
    return "int64" if kind == 1 else config.floatx()


def numpy_type_name(dtype: str) -> str:
    """The NumPy scalar constructor used in generated code, e.g. ``np.float32``."""
    return "np.bool_" if dtype == "bool" else f"np.{dtype}"


def compute_type(dtype: str) -> str:
    """The dtype generated code computes a dtype's values in: float16 is computed in
    float32 (the numba-side scalar type)."""
    return "float32" if dtype == "float16" else dtype
