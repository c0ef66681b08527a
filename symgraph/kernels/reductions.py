"""Generated numba loops for reductions over any set of axes, written to vectorize.

The input is brought to a canonical form first: size-1 dims dropped, dims ordered by
decreasing stride (a transposed input is read in memory order; a layout that is still
not C-contiguous is copied once), and adjacent dims merged when they are both kept or
both reduced. What is left is reduced one group of axes at a time, innermost first,
with two kernels that are keyed by (kind, dtypes) only, never by rank or sizes:

* ``inner`` reduces the contiguous last axis of an ``(M, R)`` array. Each row is cut
  into fixed chunks of ``CHUNK`` elements; a chunk is one vectorized loop and the chunk
  partials of a row are combined in order. Float sums accumulate in float64 with
  ``fastmath={'reassoc'}`` only: LLVM may then keep several vector accumulators (the
  reassociation NumPy's pairwise sum also makes), while NaN/inf handling stays exact
  (no ``nnan``/``ninf``). Float max/min compare order-preserving integer keys of the
  bits (integer max vectorizes, a float select with NaN propagation does not) and flag
  NaNs separately, so a NaN anywhere gives NaN as ``np.max`` does.
* ``outer`` reduces the middle axis of an ``(A, R, B)`` array into ``(A, B)``: rows are
  added four at a time into an output row, which vectorizes over the columns.

Large inputs run a ``parallel=True`` twin of the same kernels (``prange`` over rows and
chunks, or over column blocks), compiled only when first needed. Chunks have a fixed
size and are combined in a fixed order, and column blocks do not change any column's
arithmetic, so the result is the same for every thread count. A reduction whose input
is an elementwise body computed in the same loop is the compiler's
(``compiler.fused_reduce``), written with the scalar pieces defined here.
"""

from __future__ import annotations

import functools

import numpy as np

from ..core import dtypes
from ..core.dtypes import compute_type
from . import cache, parallelism
from .inputs import as_kernel_input, dtype_name
from .parallelism import launch, threads_for
from .source import HEADER, array_type, numba_type, parallel_decorator, signed_decorator

CHUNK = 1 << 15  #: elements per partial of a contiguous reduction (fixed: thread-count-free)


def acc_dtype(kind: str, in_dtype: str) -> str:
    if kind in ("any", "all"):
        return "bool"
    if kind in ("sum", "prod", "mean"):
        return "float64" if dtypes.is_float(in_dtype) else "int64"
    if kind in ("max", "min", "argmax", "argmin"):
        if in_dtype == "bool":
            return "int64"
        return compute_type(in_dtype)
    raise ValueError(kind)


def initial_value(kind: str, acc: str, in_dtype: str):
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


# -- scalar pieces of the generated source -------------------------------------------------------
def value_source(kind: str, in_dtype: str, acc: str, expr: str) -> str:
    """Source converting one input element to the accumulator's domain."""
    if kind in ("any", "all"):
        return expr if in_dtype == "bool" else f"({expr} != 0)"
    return f"{dtypes.numpy_type_name(acc)}({expr})"


def combine_source(kind: str, acc: str, a: str, b: str) -> str:
    """Source combining accumulator ``a`` with value ``b`` (NaN propagates for max/min)."""
    if kind in ("sum", "mean"):
        return f"{a} + {b}"
    if kind == "prod":
        return f"{a} * {b}"
    if kind == "any":
        return f"{a} | {b}"
    if kind == "all":
        return f"{a} & {b}"
    cmp = ">" if kind == "max" else "<"
    if dtypes.is_float(acc):
        return f"{b} if ({b} {cmp} {a} or {b} != {b}) else {a}"
    return f"{b} if {b} {cmp} {a} else {a}"


def _literal(value, acc: str) -> str:
    t = dtypes.numpy_type_name(acc)
    if isinstance(value, float) and np.isinf(value):
        return f"{t}({'-' if value < 0 else ''}np.inf)"
    return f"{t}({value!r})"


def _key_dtype(acc: str) -> str:
    return "int32" if acc == "float32" else "int64"


def _uses_keys(kind: str, acc: str) -> bool:
    return kind in ("max", "min") and dtypes.is_float(acc)


def reassociates(kind: str, acc: str) -> bool:
    return kind in ("sum", "mean", "prod") and dtypes.is_float(acc)


def _key_constants(acc: str):
    """(bits, sign mask, NaN bit threshold, NaN key for max, NaN key for min)."""
    if acc == "float32":
        return 32, 0x7FFFFFFF, 0x7F800000, 0x7FC00000, -0x7FC00001
    return 64, 0x7FFFFFFFFFFFFFFF, 0x7FF0000000000000, 0x7FF8000000000000, \
        -0x7FF8000000000001


def _run_source(kind: str, in_dtype: str, acc: str) -> list[str]:
    """``run(x, r, start, stop)``: reduce ``x[r, start:stop]`` to one accumulator."""
    acc_t = dtypes.numpy_type_name(acc)
    if _uses_keys(kind, acc):
        # the float's bits as signed (s) and unsigned (u) ints: three integer reductions
        # that vectorize. NaN: s above +inf's bits or u above -inf's. The max is the
        # largest s if any value is >= +0, else the smallest s (least negative); the min
        # is the largest u if any value is negative, else the smallest s.
        key = _key_dtype(acc)
        kt = dtypes.numpy_type_name(key)
        ut = "np.uint32" if key == "int32" else "np.uint64"
        bits, mask, nan_at, nan_max, nan_min = _key_constants(acc)
        neg_inf = (0xFF800000 if acc == "float32" else 0xFFF0000000000000)
        pick = ("smax if smax >= 0 else smin" if kind == "max"
                else f"{kt}(umax) if smin < 0 else smin")
        nan_key = nan_max if kind == "max" else nan_min
        sig = f"{numba_type(key)}({array_type(key, 2, 'C', True)}, _t.intp, _t.intp, _t.intp)"
        return [
            f"@njit({sig}, cache=CACHE, nogil=True, error_model='numpy', fastmath=False)\n",
            "def run(x, r, start, stop):\n",
            f"    smax = {kt}({-(1 << (bits - 1))})\n    smin = {kt}({(1 << (bits - 1)) - 1})\n",
            f"    umax = {ut}(0)\n",
            "    for i in range(start, stop):\n",
            "        k = x[r, np.uintp(i)]\n",
            "        smax = max(smax, k)\n        smin = min(smin, k)\n",
            f"        umax = max(umax, {ut}(k))\n",
            f"    if smax > {kt}({nan_at}) or umax > {ut}({neg_inf}):\n",
            f"        return {kt}({nan_key})\n",
            f"    k = {pick}\n",
            f"    return k ^ ((k >> {kt}({bits - 1})) & {kt}({mask}))\n\n\n"]
    fm = "{'reassoc'}" if reassociates(kind, acc) else "False"
    sig = f"{numba_type(acc)}({array_type(in_dtype, 2, 'C', True)}, _t.intp, _t.intp, _t.intp)"
    init = _literal(initial_value(kind, acc, in_dtype), acc)
    return [
        f"@njit({sig}, cache=CACHE, nogil=True, error_model='numpy', fastmath={fm})\n",
        "def run(x, r, start, stop):\n",
        f"    a = {init}\n",
        "    for i in range(start, stop):\n",
        f"        v = {value_source(kind, in_dtype, acc, 'x[r, np.uintp(i)]')}\n",
        f"        a = {acc_t}({combine_source(kind, acc, 'a', 'v')})\n",
        "    return a\n\n\n"]


def _inner_source(kind: str, in_dtype: str, acc: str, parallel: bool) -> list[str]:
    store = _key_dtype(acc) if _uses_keys(kind, acc) else acc
    x_dtype = _key_dtype(acc) if _uses_keys(kind, acc) else in_dtype
    comb_kind = kind
    deco = signed_decorator(array_type(store, 1, "C"), array_type(store, 2, "C"),
                            array_type(x_dtype, 2, "C", True), "_t.intp")
    rng = "prange" if parallel else "range"
    combine = ("max(a, part[r, c])" if kind == "max" else "min(a, part[r, c])") \
        if _uses_keys(kind, acc) else combine_source(comb_kind, acc, "a", "part[r, c]")
    return [
        parallel_decorator(deco) if parallel else deco,
        "def inner(out, part, x, chunk):\n",
        "    m = x.shape[0]\n    n = x.shape[1]\n    nch = part.shape[1]\n",
        "    if nch == 1:  # rows shorter than a chunk: no partials\n",
        f"        for r in {rng}(m):\n",
        "            out[r] = run(x, r, 0, n)\n",
        "        return\n",
        f"    for t in {rng}(m * nch):\n",
        "        r = t // nch\n        c = t - r * nch\n        start = c * chunk\n",
        "        part[r, c] = run(x, r, start, min(n, start + chunk))\n",
        f"    for r in {rng}(m):\n",
        "        a = part[r, 0]\n",
        "        for c in range(1, nch):\n",
        f"            a = {combine}\n",
        "        out[r] = a\n\n\n"]


def _outer_source(kind: str, in_dtype: str, acc: str, parallel: bool) -> list[str]:
    acc_t = dtypes.numpy_type_name(acc)
    deco = signed_decorator(array_type(acc, 2, "C"), array_type(in_dtype, 3, "C", True),
                            "_t.intp")
    rng = "prange" if parallel else "range"
    vals = [value_source(kind, in_dtype, acc, f"x[a, i + {k}, np.uintp(j)]") for k in range(4)]
    c01 = combine_source(kind, acc, "v0", "v1")
    c23 = combine_source(kind, acc, "v2", "v3")
    return [
        parallel_decorator(deco) if parallel else deco,
        "def outer(out, x, nb):\n",
        "    na = x.shape[0]\n    nr = x.shape[1]\n    nc = x.shape[2]\n",
        "    cb = (nc + nb - 1) // nb\n",
        f"    for t in {rng}(na * nb):\n",
        "        a = t // nb\n        j0 = (t - a * nb) * cb\n        j1 = min(nc, j0 + cb)\n",
        "        for j in range(j0, j1):\n",
        f"            out[a, np.uintp(j)] = {_literal(initial_value(kind, acc, in_dtype), acc)}\n",
        "        i = 0\n",
        "        while i + 4 <= nr:\n",
        "            for j in range(j0, j1):\n",
        *[f"                v{k} = {vals[k]}\n" for k in range(4)],
        f"                w0 = {acc_t}({c01})\n",
        f"                w1 = {acc_t}({c23})\n",
        f"                w = {acc_t}({combine_source(kind, acc, 'w0', 'w1')})\n",
        "                o = out[a, np.uintp(j)]\n",
        f"                out[a, np.uintp(j)] = {combine_source(kind, acc, 'o', 'w')}\n",
        "            i += 4\n",
        "        while i < nr:\n",
        "            for j in range(j0, j1):\n",
        f"                v = {value_source(kind, in_dtype, acc, 'x[a, i, np.uintp(j)]')}\n",
        "                o = out[a, np.uintp(j)]\n",
        f"                out[a, np.uintp(j)] = {combine_source(kind, acc, 'o', 'v')}\n",
        "            i += 1\n\n\n"]


@functools.cache  # pure: the same string object comes back, so load() finds it by hash
def reduction_source(kind: str, in_dtype: str, acc: str, parallel: bool,
                     which: str = "inner") -> str:
    """Source of the ``inner`` (with ``run``) or the ``outer`` kernel of one (kind, input
    dtype, acc dtype): separate modules, so a reduction compiles only what it runs."""
    src = [HEADER.replace("from numba import njit", "from numba import njit, prange")]
    if which == "inner":
        src += _run_source(kind, in_dtype, acc)
        src += _inner_source(kind, in_dtype, acc, parallel)
    else:
        src += _outer_source(kind, in_dtype, acc, parallel)
    return "".join(src)


def _module(kind: str, in_dtype: str, acc: str, parallel: bool, which: str = "inner"):
    return cache.load(reduction_source(kind, in_dtype, acc, parallel, which))


def _decode_keys(keys: np.ndarray, acc: str) -> np.ndarray:
    """Order-preserving integer keys back to floats."""
    bits, mask = (31, 0x7FFFFFFF) if acc == "float32" else (63, 0x7FFFFFFFFFFFFFFF)
    k = keys ^ ((keys >> bits) & mask)
    return k.view(acc)


# -- canonical form and the driver ---------------------------------------------------------------
def _canonical(x: np.ndarray, axes: tuple):
    """``(y, groups, kept)``: ``y`` C-contiguous holding ``x``'s data, its dims
    ``groups`` (size, reduced) alternating between kept and reduced, and the original
    kept dims in ``y``'s order."""
    if x.flags.c_contiguous:  # the common case: everything follows from the shape
        dims, groups, kept = _contiguous_layout(x.shape, axes)
        return x.reshape([x.shape[d] for d in dims]), [list(g) for g in groups], list(kept)
    dims = [d for d in range(x.ndim) if x.shape[d] != 1]
    dims.sort(key=lambda d: -abs(x.strides[d]))  # stable: ties keep their order
    y = x.transpose(dims + [d for d in range(x.ndim) if d not in dims])
    y = np.ascontiguousarray(y).reshape([x.shape[d] for d in dims])
    return (y, [list(g) for g in _groups(x.shape, dims, axes)],
            [d for d in dims if d not in axes])


def _groups(shape: tuple, dims, axes: tuple) -> tuple:
    groups: list[list] = []
    for d in dims:
        red = d in axes
        if groups and groups[-1][1] == red:
            groups[-1][0] *= shape[d]
        else:
            groups.append([shape[d], red])
    return tuple(tuple(g) for g in groups)


@functools.lru_cache(maxsize=4096)
def _contiguous_layout(shape: tuple, axes: tuple) -> tuple:
    dims = tuple(d for d in range(len(shape)) if shape[d] != 1)
    return dims, _groups(shape, dims, axes), tuple(d for d in dims if d not in axes)


@functools.lru_cache(maxsize=4096)
def _stages(kind: str, groups: tuple, in_dtype: str, acc: str, n_threads: int,
            parallel_min: int) -> tuple:
    """The kernel launches reducing data laid out as ``groups``: a function of shapes
    only, so planned once per shape. Each stage reduces the last reduced group, either
    the contiguous tail ('inner': rows of length r) or into the kept rows after it
    ('outer')."""
    stages = []
    groups = [list(g) for g in groups]
    while any(red for _, red in groups):
        sizes = [g[0] for g in groups]
        if groups[-1][1]:
            m, r = int(np.prod(sizes[:-1], dtype=np.int64)), sizes[-1]
            t = n_threads if m * r >= parallel_min else 1
            stages.append(("inner", in_dtype, t, (m, r), tuple(sizes[:-1])))
            groups.pop()
        else:
            k = max(i for i, g in enumerate(groups) if g[1])
            a = int(np.prod(sizes[:k], dtype=np.int64))
            r, b = sizes[k], int(np.prod(sizes[k + 1:], dtype=np.int64))
            t = n_threads if a * r * b >= parallel_min else 1
            nb = 1 if t == 1 or a >= t else min(t, max(1, b // 256))
            groups = groups[:k] + [[b, False]]
            if k > 0:  # merge with the kept group before it
                groups[k - 1][0] *= b
                groups.pop()
            stages.append(("outer", in_dtype, t, (a, r, b, nb), tuple(g[0] for g in groups)))
        in_dtype = acc
    return tuple(stages)


def _reduce_nonempty(kind: str, x: np.ndarray, axes: tuple, acc: str) -> np.ndarray:
    """The reduction of a non-empty ``x``: kept dims only (original order), ``acc`` dtype."""
    y, groups, kept = _canonical(x, axes)
    stages = _stages(kind, tuple(tuple(g) for g in groups), dtype_name(y.dtype), acc,
                     threads_for(x.size), parallelism.PARALLEL_MIN)
    y = _run_stages(_stage_runs(kind, stages, acc), y, acc)
    y = y.reshape([x.shape[d] for d in kept])
    if all(kept[i] < kept[i + 1] for i in range(len(kept) - 1)):
        return y
    order = sorted(range(len(kept)), key=lambda i: kept[i])
    return y.transpose(order)


@functools.lru_cache(maxsize=4096)
def _stage_runs(kind: str, stages: tuple, acc: str) -> tuple:
    """``(store, runs)``: the dtype the stages store partials in (order-preserving
    integer keys for float max/min), and per stage of :func:`_stages` its kernel loaders
    and buffer shapes, worked out once per plan."""
    store = _key_dtype(acc) if _uses_keys(kind, acc) else None
    runs = []
    for which, in_dtype, t, sizes, shape_after in stages:
        def loader(parallel, d=in_dtype, part=which):
            return lambda: getattr(_module(kind, d, acc, parallel, part), part)

        if which == "inner":
            m, r = sizes
            runs.append((True, t, loader(False), loader(True), (m, r), (m,),
                         (m, (r + CHUNK - 1) // CHUNK), shape_after))
        else:
            a, r, b, nb = sizes
            runs.append((False, t, loader(False), loader(True), (a, r, b), (a, b), nb,
                         shape_after))
    return store, tuple(runs)


def _run_stages(planned: tuple, y: np.ndarray, acc: str) -> np.ndarray:
    """Run the stages :func:`_stage_runs` planned on the canonical ``y``."""
    store, runs = planned
    for inner, t, serial, parallel, src_shape, out_shape, extra, shape_after in runs:
        if inner:
            src = y.reshape(src_shape)
            if store is not None:
                src = src.view(store)
            out = np.empty(out_shape, dtype=store or acc)
            launch(t, serial, parallel, out, np.empty(extra, dtype=store or acc), src, CHUNK)
            y = (out if store is None else _decode_keys(out, acc)).reshape(shape_after)
        else:
            out = np.empty(out_shape, dtype=acc)
            launch(t, serial, parallel, out, y.reshape(src_shape), extra)
            y = out.reshape(shape_after)
    return y


@functools.cache
def _generic_source(kind: str, ndim: int, axes: tuple, acc: str, in_dtype: str) -> str:
    """Arg-reductions: one loop nest in memory order keeping the best value and index."""
    index = ", ".join(f"i{d}" for d in range(ndim)) if ndim else "()"
    out_index = ", ".join("0" if d in axes else f"i{d}" for d in range(ndim)) if ndim else "()"
    x_type = array_type(in_dtype, ndim, "A", True)
    sig = signed_decorator(array_type(acc, ndim, "C"), array_type("int64", ndim, "C"), x_type)
    src = [HEADER, sig, "def reduce(best, idx, x):\n"]
    for d in range(ndim):
        src.append("    " * (d + 1) + f"for i{d} in range(x.shape[{d}]):\n")
    pad = "    " * (ndim + 1)
    src.append(f"{pad}v = {dtypes.numpy_type_name(acc)}(x[{index}])\n")
    (axis,) = axes
    b = f"best[{out_index}]"
    cmp = ">" if kind == "argmax" else "<"
    src.append(f"{pad}if v {cmp} {b} or (v != v and {b} == {b}):\n")
    src.append(f"{pad}    {b} = v\n{pad}    idx[{out_index}] = i{axis}\n")
    return "".join(src)


def finish_mean(result: np.ndarray, count: int, acc: str) -> np.ndarray:
    if dtypes.is_float(acc):
        with np.errstate(invalid="ignore", divide="ignore"):
            return result / count if count else np.full_like(result, np.nan)
    if count == 0:  # integer mean of nothing: 0 (TF truncates the division)
        return np.zeros_like(result)
    q = np.abs(result) // count  # integer mean truncates toward zero, as TF does
    return np.where(result < 0, -q, q)


def run_reduction(kind: str, x: np.ndarray, axes: tuple, keepdims: bool,
                  out_dtype: str) -> np.ndarray:
    """Reduce ``x`` over ``axes`` with generated numba kernels."""
    in_dtype = dtype_name(x.dtype)
    x = as_kernel_input(x)
    acc = acc_dtype(kind, in_dtype)
    axes = tuple(sorted(axes))
    kshape = tuple(1 if d in axes else n for d, n in enumerate(x.shape))
    if kind in ("argmax", "argmin"):
        module = cache.load(_generic_source(kind, x.ndim, axes, acc,
                                                     dtype_name(x.dtype)))
        best = np.full(kshape, initial_value(kind, acc, in_dtype), dtype=acc)
        result = np.zeros(kshape, dtype=np.int64)
        module.reduce(best, result, x)
    elif x.size == 0:
        result = np.full(kshape, initial_value(kind, acc, in_dtype), dtype=acc)
    else:
        kernel_kind = "sum" if kind == "mean" else kind
        result = _reduce_nonempty(kernel_kind, x, axes, acc).reshape(kshape)
    if kind == "mean":
        count = 1
        for a in axes:
            count *= x.shape[a]
        result = finish_mean(result, count, acc)
    if not keepdims:
        result = result.reshape(tuple(n for d, n in enumerate(x.shape) if d not in axes))
    return np.asarray(result).astype(out_dtype, copy=False)


def bind_reduction(kind: str, shape: tuple, in_dtype: str, axes: tuple, keepdims: bool,
                   out_dtype: str):
    """``reduce(x)``: :func:`run_reduction` planned once for a C-contiguous ``x`` of this
    ``shape`` and dtype (layout, stages and kernels looked up in advance: a (64, 96)
    bias gradient 12 -> ~4 us), or None where the general path must decide each call
    (arg-reductions, empty or multi-threaded reductions). Any other ``x`` takes
    :func:`run_reduction`, so the result is always its result.

    Example:
        >>> import numpy as np
        >>> reduce = bind_reduction("sum", (2, 3), "float32", (0,), False, "float32")
        >>> reduce(np.ones((2, 3), "float32"))
        array([2., 2., 2.], dtype=float32)
    """
    shape, axes = tuple(shape), tuple(sorted(axes))
    size = int(np.prod(shape, dtype=np.int64))
    if kind in ("argmax", "argmin") or size == 0 or threads_for(size) != 1 or \
            in_dtype == "float16":  # float16 is widened per call (as_kernel_input)
        return None
    acc = acc_dtype(kind, in_dtype)
    kernel_kind = "sum" if kind == "mean" else kind
    dims, groups, kept = _contiguous_layout(shape, axes)
    stages = _stages(kernel_kind, groups, in_dtype, acc, 1, parallelism.PARALLEL_MIN)
    if any(t != 1 for _, _, t, _, _ in stages):
        return None
    canonical = tuple(shape[d] for d in dims)
    kept_shape = tuple(shape[d] for d in kept)
    kshape = tuple(1 if d in axes else n for d, n in enumerate(shape))
    final = kshape if keepdims else tuple(n for d, n in enumerate(shape) if d not in axes)
    count = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    expected = np.dtype(in_dtype)
    planned = _stage_runs(kernel_kind, stages, acc)

    def reduce(x: np.ndarray) -> np.ndarray:
        if x.dtype != expected or not x.flags.c_contiguous or x.shape != shape:
            return run_reduction(kind, x, axes, keepdims, out_dtype)
        y = _run_stages(planned, x.reshape(canonical), acc)
        result = y.reshape(kept_shape)
        if kind == "mean":
            result = finish_mean(result, count, acc)
        return result.reshape(final).astype(out_dtype, copy=False)
    return reduce
