"""Validate and normalize the arrays fed to placeholders, before any kernel runs."""

from __future__ import annotations

import numpy as np

from ..core.shapes import dims_compatible, shape_str
from ..core.tensor import Tensor
from ..errors import FeedError, created_at, docs_hint


class _DtypeTable(dict):
    def __missing__(self, name: str) -> np.dtype:
        self[name] = found = np.dtype(name)
        return found


_NUMPY_DTYPES = _DtypeTable()
_HINT = docs_hint("errors", "feeds")  # what a placeholder accepts, and the fixes


def check_feed(ph, value) -> np.ndarray:
    """Return ``value`` as a C-contiguous, native-order array of the placeholder's
    dtype, or raise :class:`FeedError` naming the placeholder and what it expects.

    Values are converted like TF feeds: any array of the same kind or a safely
    widening one (int data to a float placeholder, float64 to float32) is accepted;
    float data to an int placeholder, or non-numeric data, is refused, and so are int
    values outside a narrower int placeholder's range (int64 data to int32).
    """
    if type(value) is np.ndarray and value.dtype == _NUMPY_DTYPES[ph.dtype] and \
            value.flags.c_contiguous and dims_compatible(ph.shape, value.shape):
        return value  # the common case: nothing to convert or explain (== checks byte order)
    expected = f"shape {shape_str(ph.shape)} and dtype {ph.dtype}"
    if isinstance(value, Tensor):
        raise FeedError(f"placeholder '{ph.name}'{created_at(ph)} was fed a symbolic tensor "
                        f"'{value.name}'; feed a NumPy array of {expected}; {_HINT}")
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise FeedError(f"placeholder '{ph.name}'{created_at(ph)} expects an array of {expected}; "
                        f"could not convert the fed value: {exc}; {_HINT}") from None
    if ph.dtype == "bool" and array.dtype.kind in "iu" and np.isin(array, (0, 1)).all():
        array = array.astype(bool)  # flags such as the learning phase are fed as 0/1
    if array.dtype.kind not in "biuf" or not np.can_cast(array.dtype, ph.dtype, "same_kind"):
        raise FeedError(f"placeholder '{ph.name}'{created_at(ph)} expects {expected}; "
                        f"got an array of dtype {array.dtype} that does not convert safely; "
                        f"{_HINT}")
    target = _NUMPY_DTYPES[ph.dtype]
    if array.dtype.kind in "iu" and target.kind in "iu" and array.size and \
            not np.can_cast(array.dtype, target, "safe"):
        info = np.iinfo(target)
        low, high = array.min(), array.max()
        if low < info.min or high > info.max:  # never a silent wrap-around
            raise FeedError(f"placeholder '{ph.name}'{created_at(ph)} expects {expected}; "
                            f"got {array.dtype} values from {low} to {high}, outside "
                            f"{ph.dtype}'s range [{info.min}, {info.max}]; {_HINT}")
    if not dims_compatible(ph.shape, array.shape):
        raise FeedError(f"placeholder '{ph.name}'{created_at(ph)} expects {expected}; "
                        f"got an array of shape {shape_str(array.shape)}; {_HINT}")
    return np.require(array, dtype=ph.dtype, requirements="C")
