"""Softmax along one axis as a single kernel.

Written as ops, softmax is three passes over memory with two full-size temporaries
(``max``, ``exp(x - m)`` then a sum, a division). The kernel here works row by row
along the softmax axis instead: a row is read from memory once, its maximum, the
exponentials (vectorized, ``vmath``) and their sum are computed while the row sits in
the L1 cache, and the output is written once. The maximum and the sum keep
``LANES`` partial results that LLVM turns into SIMD registers (a float reduction
is not vectorized otherwise without fastmath); the result does not depend on the
thread count (rows are independent).

Special values follow the composition ``e / sum(e)``, ``e = exp(x - max(x))``: a row
holding NaN or +inf gives NaN throughout, a row of -inf gives NaN.
"""

from __future__ import annotations

import functools

import numpy as np

from ..core import dtypes
from ..core.tensor import Tensor
from ..kernels import cache
from ..kernels.parallelism import launch, threads_for
from ..kernels.source import vmath_digest
from .registry import KERNEL, Op, define_grad, register

LANES = 16  #: partial maxima / sums per row (one AVX-512 float32 register)


@functools.cache
def _source(dtype: str, parallel: bool) -> str:
    """``softmax_rows(out, x)`` over the rows of 2-D C-contiguous ``x``."""
    t = f"np.{dtype}"
    exp = "vmath.exp_f32" if dtype == "float32" else "vmath.exp_f64"
    lanes = [f"a{lane}" for lane in range(LANES)]
    loop = "prange" if parallel else "range"
    src = [
        "import numpy as np",
        "from numba import njit, prange",
        f"# vmath {vmath_digest()}",  # the cache key changes with vmath's code
        "from symgraph.kernels.cached_vmath import vmath",
        "",
        f"@njit(cache=CACHE, nogil=True, error_model='numpy', fastmath=False"
        f"{', parallel=True' if parallel else ''})",
        "def softmax_rows(out, x):",
        "    n, k = x.shape",
        f"    whole = k - k % {LANES}",
        f"    for i in {loop}(n):",
        "        row = x[i]",
        "        o = out[i]",
        f"        {' = '.join(lanes)} = {t}(-np.inf)",
        f"        for j in range(0, whole, {LANES}):",
    ]
    # NaNs are skipped by the maximum (a NaN check would stop LLVM vectorizing it):
    # a NaN in the row still makes its exponential and so the sum and every output NaN
    for lane in range(LANES):
        src += [f"            v = row[j + {lane}]",
                f"            a{lane} = v if v > a{lane} else a{lane}"]
    src.append(f"        m = {t}(-np.inf)")
    for lane in range(LANES):
        src.append(f"        m = a{lane} if a{lane} > m else m")
    src += [
        "        for j in range(whole, k):",
        "            v = row[j]",
        "            m = v if v > m else m",
        "        for j in range(k):",
        f"            o[j] = {exp}(row[j] - m)",
        f"        {' = '.join(lanes)} = {t}(0)",
        f"        for j in range(0, whole, {LANES}):",
    ]
    src += [f"            a{lane} += o[j + {lane}]" for lane in range(LANES)]
    src += [
        f"        s = {' + '.join(lanes)}",
        "        for j in range(whole, k):",
        "            s += o[j]",
        "        for j in range(k):",
        "            o[j] = o[j] / s",
        "",
    ]
    return "\n".join(src)


def _infer(in_shapes, in_dtypes, attrs):
    if not dtypes.is_float(in_dtypes[0]):
        raise TypeError(f"softmax needs a float tensor, got {in_dtypes[0]}")
    return in_shapes[0], in_dtypes[0]


def _kernel(args, in_shapes, attrs, out_shape, out_dtype):
    x = args[0]
    axis = attrs["axis"]
    compute = "float64" if out_dtype == "float64" else "float32"  # float16: in float32
    moved = np.moveaxis(x, axis, -1)
    rows = np.ascontiguousarray(moved, dtype=compute).reshape(-1, x.shape[axis]) \
        if x.size else None
    if rows is None or rows.shape[1] == 0:
        return np.empty(out_shape, dtype=out_dtype)
    direct = axis == x.ndim - 1 and compute == out_dtype
    out = np.empty(out_shape if direct else rows.shape, dtype=compute)
    out2 = out.reshape(rows.shape)
    launch(threads_for(rows.size) if rows.shape[0] > 1 else 1,
           lambda: cache.load(_source(compute, False)).softmax_rows,
           lambda: cache.load(_source(compute, True)).softmax_rows, out2, rows)
    if direct:
        return out
    result = np.moveaxis(out.reshape(moved.shape), -1, axis)
    return np.ascontiguousarray(result, dtype=out_dtype)


def _reference(arrays, attrs, out_shape, out_dtype):
    x = np.asarray(arrays[0], dtype=np.float64 if out_dtype == "float64" else np.float32)
    e = np.exp(x - x.max(axis=attrs["axis"], keepdims=True))
    return (e / e.sum(axis=attrs["axis"], keepdims=True)).astype(out_dtype)


SOFTMAX = register(Op("softmax", KERNEL, _infer, _reference, kernel=_kernel,
                      extra={"fresh_output": True},
                      doc="softmax along one axis (attr axis), one pass per row"))


def softmax(x: Tensor, axis: int) -> Tensor:
    """Softmax of the float tensor ``x`` along the (non-negative) ``axis``."""
    return x.graph.make(SOFTMAX, (x,), {"axis": axis})


def _softmax_grad(node, g):
    """dx = y * (g - sum(g * y, axis)): the Jacobian of softmax applied to g."""
    from .reduce import reduce

    y = node
    return (y * (g - reduce("sum", g * y, node.attrs["axis"], True)),)


define_grad(SOFTMAX, _softmax_grad)
