"""Generated numba loops for reductions over any set of axes.

One loop nest walks the input in memory order and accumulates into a keepdims-shaped
accumulator (float64 for floats, int64 for ints, so float32 sums do not drift);
the result is cast once. Kernels are keyed by (kind, rank, reduced axes, dtypes),
never by sizes.
"""

from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..ops.elementwise import compute_type
from . import kernel_cache
from .codegen import HEADER, array_type, as_kernel_input, signed_decorator


def _acc_dtype(kind: str, in_dtype: str) -> str:
    if kind in ("any", "all"):
        return "bool"
    if kind in ("sum", "prod", "mean"):
        return "float64" if dtypes.is_float(in_dtype) else "int64"
    if kind in ("max", "min", "argmax", "argmin"):
        if in_dtype == "bool":
            return "int64"
        return compute_type(in_dtype)
    raise ValueError(kind)


def _initial(kind: str, acc: str, in_dtype: str):
    if kind in ("sum", "mean"):
        return 0
    if kind == "prod":
        return 1
    if kind == "any":
        return False
    if kind == "all":
        return True
    low = kind in ("max", "argmax")
    if dtypes.is_float(acc):
        return -np.inf if low else np.inf
    if in_dtype == "bool":
        return 0 if low else 1
    info = np.iinfo(in_dtype)
    return info.min if low else info.max


def reduction_source(kind: str, ndim: int, axes: tuple, acc: str, in_dtype: str) -> str:
    acc_t = dtypes.numpy_type_name(acc)
    index = ", ".join(f"i{d}" for d in range(ndim)) if ndim else "()"
    out_index = ", ".join("0" if d in axes else f"i{d}" for d in range(ndim)) if ndim else "()"
    x_type = array_type(in_dtype, ndim, "A", True)
    if kind in ("argmax", "argmin"):
        params = "best, idx, x"
        sig = signed_decorator(array_type(acc, ndim, "C"), array_type("int64", ndim, "C"), x_type)
    else:
        params = "out, x"
        sig = signed_decorator(array_type(acc, ndim, "C"), x_type)
    src = [HEADER, sig, f"def reduce({params}):\n"]
    for d in range(ndim):
        src.append("    " * (d + 1) + f"for i{d} in range(x.shape[{d}]):\n")
    pad = "    " * (ndim + 1)
    src.append(f"{pad}v = {acc_t}(x[{index}])\n")
    o = f"out[{out_index}]"
    body = {
        "sum": f"{o} += v\n", "mean": f"{o} += v\n", "prod": f"{o} *= v\n",
        "max": f"if v > {o} or v != v:\n{pad}    {o} = v\n",
        "min": f"if v < {o} or v != v:\n{pad}    {o} = v\n",
        "any": f"if v:\n{pad}    {o} = True\n",
        "all": f"if not v:\n{pad}    {o} = False\n",
    }
    if kind in ("argmax", "argmin"):
        (axis,) = axes
        b = f"best[{out_index}]"
        cmp = ">" if kind == "argmax" else "<"
        src.append(f"{pad}if v {cmp} {b} or (v != v and {b} == {b}):\n")
        src.append(f"{pad}    {b} = v\n{pad}    idx[{out_index}] = i{axis}\n")
    else:
        src.append(pad + body[kind])
    if kind == "mean":
        src += ["\n\n", signed_decorator(array_type(acc, 1, "C"), "_t.int64"),
                "def finish_mean(out, count):\n",
                "    for i in range(out.shape[0]):\n"]
        if dtypes.is_float(acc):
            src.append("        out[i] = out[i] / count\n")
        else:  # integer mean truncates toward zero, as TF does
            src.append("        q = abs(out[i]) // count\n"
                       "        out[i] = -q if out[i] < 0 else q\n")
    return "".join(src)


def run_reduction(kind: str, x: np.ndarray, axes: tuple, keepdims: bool,
                  out_dtype: str) -> np.ndarray:
    """Reduce ``x`` over ``axes`` with a generated numba kernel."""
    in_dtype = x.dtype.name
    x = as_kernel_input(x)
    acc = _acc_dtype(kind, in_dtype)
    kshape = tuple(1 if d in axes else n for d, n in enumerate(x.shape))
    module = kernel_cache.load(reduction_source(kind, x.ndim, axes, acc, x.dtype.name))
    if kind in ("argmax", "argmin"):
        best = np.full(kshape, _initial(kind, acc, in_dtype), dtype=acc)
        result = np.zeros(kshape, dtype=np.int64)
        module.reduce(best, result, x)
    else:
        result = np.full(kshape, _initial(kind, acc, in_dtype), dtype=acc)
        module.reduce(result, x)
        if kind == "mean":
            count = 1
            for a in axes:
                count *= x.shape[a]
            module.finish_mean(result.reshape(-1), count)
    if not keepdims:
        result = result.reshape(tuple(n for d, n in enumerate(x.shape) if d not in axes))
    return result.astype(out_dtype, copy=False)
