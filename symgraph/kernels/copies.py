"""Copies into possibly strided arrays, by a numba kernel (one per rank and dtype)."""

from __future__ import annotations

import numpy as np

from . import cache
from .source import HEADER, array_type, signed_decorator


def copy_source(ndim: int, dtype: str) -> str:
    sig = signed_decorator(array_type(dtype, ndim, "A"), array_type(dtype, ndim, "A", True))
    src = [HEADER, sig, "def copy(out, a):\n"]
    if ndim == 0:
        src.append("    out[()] = a[()]\n")
        return "".join(src)
    index = ", ".join(f"i{d}" for d in range(ndim))
    for d in range(ndim):
        src.append("    " * (d + 1) + f"for i{d} in range(out.shape[{d}]):\n")
    src.append("    " * (ndim + 1) + f"out[{index}] = a[{index}]\n")
    return "".join(src)


def copy_into(out: np.ndarray, src: np.ndarray) -> None:
    """Copy ``src`` (broadcast to ``out``'s shape) into the possibly strided ``out``."""
    if out.size == 0:
        return
    if out.dtype == np.float16 or src.dtype != out.dtype:
        out[...] = src  # dtype conversion copies are NumPy's job
        return
    module = cache.load(copy_source(out.ndim, out.dtype.name))
    module.copy(out, np.broadcast_to(src, out.shape))


def contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` itself if C-contiguous, else a contiguous copy made by a numba kernel."""
    if a.flags.c_contiguous:
        return a
    out = np.empty(a.shape, dtype=a.dtype)
    copy_into(out, a)
    return out
