"""What a kernel is given: arrays converted to what numba reads, and each input's
(layout, broadcast dims) pattern, which the kernel's signature and loads bake in."""

from __future__ import annotations

import functools

import numpy as np


def as_kernel_input(a: np.ndarray) -> np.ndarray:
    """An array numba kernels can read: float16 widened to float32, native byte order.
    (Writable and read-only arrays both match the read-only signatures.)"""
    if a.dtype == np.float16:
        return a.astype(np.float32)
    if not a.dtype.isnative:
        return a.astype(a.dtype.newbyteorder("="))
    return a


@functools.cache
def dtype_name(dtype: np.dtype) -> str:
    """``dtype.name``, memoized (NumPy computes the property in Python each time)."""
    return dtype.name


def static_broadcast(in_shapes, ndim: int) -> tuple:
    """Per input, the dims its static shape (padded to ``ndim``) gives extent 1."""
    flags = []
    for s in in_shapes:
        if s is None or len(s) > ndim:
            flags.append((False,) * ndim)
        else:
            flags.append(tuple(d == 1 for d in (1,) * (ndim - len(s)) + tuple(s)))
    return tuple(flags)


def input_patterns(arrays, shape, static=None) -> tuple:
    """(layout, broadcast dims) of inputs already padded to ``shape``'s rank. A dim of
    extent 1 counts as broadcast where the output's is not 1 or the static shape says
    it always is 1, so a batch of 1 uses the same kernel as other batch sizes."""
    ndim = len(shape)
    static = static or ((False,) * ndim,) * len(arrays)
    return tuple(("C" if a.flags.c_contiguous else "A",
                  tuple(a.shape[d] == 1 and (shape[d] != 1 or st[d]) for d in range(ndim)))
                 for a, st in zip(arrays, static))


def padded_shapes(in_shapes, ndim: int) -> list:
    """Shapes with leading 1s up to rank ``ndim`` (NumPy broadcasting's alignment)."""
    return [(1,) * (ndim - len(s)) + tuple(s) for s in in_shapes]


def patterns_for_shapes(in_shapes, out_shape: tuple, static=None, layouts=None) -> tuple:
    """:func:`input_patterns` of inputs of ``in_shapes`` padded to the output's rank,
    with the given ``layouts`` ('C' by default; 'A' for inputs that may be strided
    views): what a launcher bound to concrete shapes assumes."""
    ndim = len(out_shape)
    padded = padded_shapes(in_shapes, ndim)
    static = static or ((False,) * ndim,) * len(padded)
    layouts = layouts or ("C",) * len(padded)
    return tuple((lay, tuple(p[d] == 1 and (out_shape[d] != 1 or st[d]) for d in range(ndim)))
                 for p, st, lay in zip(padded, static, layouts))
