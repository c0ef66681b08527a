"""A reduction fused with the elementwise group it reduces: one loop nest over the
group's domain computes the body and accumulates it, so the reduced values are never
stored (softmax's ``sum(exp(x - max))`` is one loop). The accumulator rules and scalar
pieces are the unfused reductions' (``kernels.reductions``)."""

from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..kernels import cache, parallelism
from ..kernels.inputs import (
    as_kernel_input,
    input_patterns,
    padded_shapes,
    patterns_for_shapes,
    static_broadcast,
)
from ..kernels.parallelism import launch, threads_for
from ..kernels.reductions import (
    acc_dtype,
    combine_source,
    finish_mean,
    initial_value,
    reassociates,
    value_source,
)
from ..kernels.source import (
    HEADER,
    array_type,
    numba_type,
    parallel_decorator,
    signed_decorator,
)


def fused_reduction_source(spec, kind: str, ndim: int, axes: tuple, patterns: tuple,
                           parallel: bool) -> str:
    """One loop nest over the elementwise domain that computes ``spec``'s body and
    accumulates it into the keepdims-shaped ``out`` (pre-filled with the identity).
    ``patterns[j]``: (layout, broadcast flags per dim) of array input ``j``: a broadcast
    dim is indexed with 0, so contiguous inputs stay contiguous for LLVM."""
    acc = acc_dtype(kind, spec.out_dtype)
    acc_t = dtypes.numpy_type_name(acc)
    scalars = [f"s{j}" for j in range(spec.n_scalars)]
    xs = [f"x{j}" for j in range(spec.n_arrays)]
    body_sig = f"{numba_type(spec.out_dtype)}(" + ", ".join(
        [numba_type(d) for d in spec.array_dtypes] + [numba_type(d) for d in spec.scalar_dtypes]) \
        + ")"
    src = [HEADER.replace("from numba import njit", "from numba import njit, prange"),
           f"@njit({body_sig}, cache=CACHE, nogil=True, error_model='numpy', fastmath=False)\n",
           f"def body({', '.join(xs + scalars)}):\n"]
    src += [f"    {line}\n" for line in spec.lines]
    src.append(f"    return {spec.result}\n\n\n")
    arrays = [array_type(d, ndim, layout, True)
              for d, (layout, _) in zip(spec.array_dtypes, patterns)]
    deco = signed_decorator(array_type(acc, ndim, "C"), *arrays,
                            *[numba_type(d) for d in spec.scalar_dtypes],
                            *["_t.intp"] * ndim)
    if reassociates(kind, acc):
        deco = deco.replace("fastmath=False", "fastmath={'reassoc'}")
    if parallel:
        deco = parallel_decorator(deco)
    dims = [f"d{k}" for k in range(ndim)]
    params = ["out", *[f"a{j}" for j in range(spec.n_arrays)], *scalars, *dims]
    src += [deco, f"def freduce({', '.join(params)}):\n"]
    idx = [f"np.uintp(i{k})" for k in range(ndim)]
    loads = []
    for j, (_, bcast) in enumerate(patterns):
        index = ", ".join("0" if bcast[k] else idx[k] for k in range(ndim)) if ndim else "()"
        loads.append(f"a{j}[{index}]")
    call = f"body({', '.join(loads + scalars)})"
    value = value_source(kind, spec.out_dtype, acc, call)
    last_reduced = ndim > 0 and (ndim - 1) in axes
    n_outer = ndim - 1 if last_reduced else ndim
    for k in range(n_outer):
        rng = "prange" if (parallel and k == 0) else "range"
        src.append("    " * (k + 1) + f"for i{k} in {rng}(d{k}):\n")
    pad = "    " * (n_outer + 1)
    oidx = ", ".join("0" if k in axes else idx[k] for k in range(ndim)) if ndim else "()"
    if last_reduced:
        last = ndim - 1
        src += [f"{pad}a = out[{oidx}]\n", f"{pad}for i{last} in range(d{last}):\n",
                f"{pad}    v = {value}\n",
                f"{pad}    a = {acc_t}({combine_source(kind, acc, 'a', 'v')})\n",
                f"{pad}out[{oidx}] = a\n"]
    else:
        src += [f"{pad}v = {value}\n", f"{pad}o = out[{oidx}]\n",
                f"{pad}out[{oidx}] = {acc_t}({combine_source(kind, acc, 'o', 'v')})\n"]
    return "".join(src)


class CompiledReduceGroup:
    """A reduction over a fused elementwise body (see :func:`fused_reduction_source`);
    called like :class:`~symgraph.compiler.codegen.CompiledGroup` with the reduction's
    output shape."""

    def __init__(self, spec, kind: str, axes: tuple, keepdims: bool, ndim: int,
                 out_dtype: str, in_shapes=None):
        self.spec, self.kind, self.axes = spec, kind, tuple(sorted(axes))
        self.keepdims, self.ndim, self.out_dtype = keepdims, ndim, out_dtype
        self.acc = acc_dtype(kind, spec.out_dtype)
        self._modules: dict = {}
        self._static = None if in_shapes is None else static_broadcast(in_shapes, ndim)

    def _module(self, patterns, parallel: bool):
        key = (patterns, parallel)
        found = self._modules.get(key)
        if found is None:
            found = self._modules[key] = cache.load(fused_reduction_source(
                self.spec, self.kind, self.ndim, self.axes, patterns, parallel))
        return found

    def bind_nd(self, out_shape: tuple, in_shapes, scalars, layouts=None):
        """``run(*arrays) -> out`` for these concrete shapes with every shape decision
        made once (see ``CompiledGroup.bind_nd``); None for large domains (parallel
        twin) or inputs needing conversion."""
        ndim, axes = self.ndim, self.axes
        if "float16" in self.spec.array_dtypes or any(len(s) > ndim for s in in_shapes):
            return None
        if self.keepdims:
            kept = tuple(out_shape)
        else:
            it = iter(out_shape)
            kept = tuple(1 if d in axes else next(it) for d in range(ndim))
        pads = padded_shapes(in_shapes, ndim)
        try:
            domain = np.broadcast_shapes(*pads, kept)
        except ValueError:
            return None
        if int(np.prod(domain, dtype=np.int64)) >= parallelism.PARALLEL_MIN:
            return None
        kshape = tuple(1 if d in axes else n for d, n in enumerate(domain))
        init = np.dtype(self.acc).type(initial_value(self.kind, self.acc, self.spec.out_dtype))
        patterns = patterns_for_shapes(in_shapes, domain, self._static, layouts)
        freduce = self._module(patterns, False).freduce
        count = int(np.prod([domain[a] for a in axes], dtype=np.int64))
        out_shape, out_dtype, acc, mean = tuple(out_shape), self.out_dtype, self.acc, \
            self.kind == "mean"
        general = self.__call__

        def run(*arrays):
            out = np.full(kshape, init)
            try:
                freduce(out, *[a.reshape(p) for a, p in zip(arrays, pads)], *scalars, *domain)
            except TypeError:
                return general(out_shape, list(arrays), scalars)
            result = finish_mean(out, count, acc) if mean else out
            return result.reshape(out_shape).astype(out_dtype, copy=False)
        return run

    def __call__(self, out_shape, arrays, scalars) -> np.ndarray:
        ndim, axes = self.ndim, self.axes
        if self.keepdims:
            kept = list(out_shape)
        else:
            it = iter(out_shape)
            kept = [1 if d in axes else next(it) for d in range(ndim)]
        padded = []
        for a in arrays:
            a = as_kernel_input(np.asarray(a))
            padded.append(a.reshape((1,) * (ndim - a.ndim) + a.shape))
        domain = np.broadcast_shapes(*[a.shape for a in padded], tuple(kept))
        kshape = tuple(1 if d in axes else n for d, n in enumerate(domain))
        out = np.full(kshape, initial_value(self.kind, self.acc, self.spec.out_dtype), self.acc)
        patterns = input_patterns(padded, domain, self._static)
        size = int(np.prod(domain, dtype=np.int64))
        threads = threads_for(size, self.spec) if ndim and 0 not in axes else 1
        launch(threads, lambda: self._module(patterns, False).freduce,
               lambda: self._module(patterns, True).freduce,
               out, *padded, *scalars, *domain)
        result = out
        if self.kind == "mean":
            count = 1
            for a in axes:
                count *= domain[a]
            result = finish_mean(result, count, self.acc)
        return np.asarray(result).reshape(out_shape).astype(self.out_dtype, copy=False)
