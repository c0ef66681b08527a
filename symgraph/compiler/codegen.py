"""Generate one numba function per fused elementwise group, and run it.

A group is a set of elementwise nodes with a single root whose value is stored.
Its generated module has two loops over the same scalar body: ``flat`` (every
input contiguous and of the output's shape: one 1-D loop) and ``nd`` (inputs are
broadcast, transposed or strided views: nested loops over the output's dims).
Fills and 0-d constants are scalar *arguments*, never arrays and never baked into
the source, so graphs that differ only in constants share one compiled kernel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..core import dtypes
from ..core.dtypes import compute_type
from ..kernels import cache, parallelism
from ..kernels.inputs import (
    as_kernel_input,
    input_patterns,
    padded_shapes,
    patterns_for_shapes,
    static_broadcast,
)
from ..kernels.parallelism import launch, launch_loaders, threads_for
from ..kernels.source import (
    HEADER,
    PARALLEL_HEADER,
    array_type,
    numba_type,
    parallel_decorator,
    signed_decorator,
)


@dataclass
class GroupSpec:
    """What codegen needs to know of a fused group (all of it structural)."""

    lines: list[str]  # body lines computing t<k> from x<j> (arrays) and s<j> (scalars)
    result: str  # name of the root's variable
    array_dtypes: list[str]
    scalar_dtypes: list[str]
    out_dtype: str

    @property
    def n_arrays(self) -> int:
        return len(self.array_dtypes)

    @property
    def may_raise(self) -> bool:
        """Whether the body can raise (an integer power with a negative exponent)."""
        return any("vmath.ipow(" in line for line in self.lines)

    @property
    def n_scalars(self) -> int:
        return len(self.scalar_dtypes)


def build_group_spec(members, array_inputs, scalar_inputs) -> GroupSpec:
    """``members``: nodes in topological order, root last. ``array_inputs`` and
    ``scalar_inputs``: the external nodes read per element / as scalars."""
    names: dict[int, str] = {}
    for j, node in enumerate(array_inputs):
        names[node.id] = f"x{j}"
    for j, node in enumerate(scalar_inputs):
        names[node.id] = f"s{j}"
    lines = []
    last = len(members) - 1
    for k, node in enumerate(members):
        args = [names[src.id] for src in node.inputs]
        expr = node.op.scalar(args, node.attrs, [src.dtype for src in node.inputs], node.dtype)
        ctype = dtypes.numpy_type_name(compute_type(node.dtype))
        if node.dtype == "float16" and k != last:
            # computed in float32, but the tensor holds float16 values: round it as an
            # unfused op's float16 result would be (the root is rounded when stored)
            lines.append(f"t{k} = vmath.round_f16({ctype}({expr}))")
        else:
            lines.append(f"t{k} = {ctype}({expr})")
        names[node.id] = f"t{k}"
    return GroupSpec(lines, names[members[-1].id], [n.dtype for n in array_inputs],
                     [n.dtype for n in scalar_inputs], members[-1].dtype)


# ``x ** s`` with ``s`` a scalar argument: the template calls vmath.pow_f32/f64(x, s)
_POW_BY_SCALAR = re.compile(r"vmath\.pow_f(?:32|64)\((np\.\w+\(\w+\)|\w+), "
                            r"(np\.\w+\(s\d+\)|s\d+)\)")


def square_variant(lines: list[str]):
    """``(condition, lines)`` where every power by a scalar argument is written ``x * x``,
    valid when the condition (those scalars == 2) holds at run time; None if there is no
    such power. Exponents are arguments, not constants, so the generated loop picks the
    cheap, vectorizable version with one test outside the loop (``x ** 2`` is common)."""
    exponents: list[str] = []

    def square(match):
        exponents.append(match.group(2))
        return f"({match.group(1)} * {match.group(1)})"

    new_lines = [_POW_BY_SCALAR.sub(square, line) for line in lines]
    if not exponents:
        return None
    return " and ".join(f"{e} == 2" for e in dict.fromkeys(exponents)), new_lines


def _loop_nest(spec: GroupSpec, lines: list[str], ndim: int, depth: int, flat: bool,
               patterns=None, parallel: bool = False) -> list[str]:
    """The loop over the output (flat: one loop; else one per dim) at indent ``depth``.
    ``patterns[j][1]``: which dims input ``j`` is broadcast along (indexed with 0).
    Indices are unsigned so LLVM sees no negative-index wraparound and vectorizes."""
    if flat:
        pad = "    " * (depth + 2 if parallel else depth + 1)
        if parallel:  # fixed chunks; elementwise results never depend on the split
            head = ["    " * depth + f"for c in prange((out.shape[0] + {FLAT_CHUNK - 1}) // "
                    f"{FLAT_CHUNK}):\n",
                    "    " * (depth + 1) + f"for i in range(c * {FLAT_CHUNK}, "
                    f"min(out.shape[0], (c + 1) * {FLAT_CHUNK})):\n"]
        else:
            head = ["    " * depth + "for i in range(out.shape[0]):\n"]
        index = "np.uintp(i)"
        loads = [index] * spec.n_arrays
    else:
        head = ["    " * (depth + d) + f"for i{d} in "
                f"{'prange' if parallel and d == 0 else 'range'}(out.shape[{d}]):\n"
                for d in range(ndim)]
        idx = [f"np.uintp(i{d})" for d in range(ndim)]
        index, pad = ", ".join(idx), "    " * (depth + ndim)
        loads = [", ".join("0" if bcast[d] else idx[d] for d in range(ndim))
                 for _, bcast in patterns]
        # dims every input is broadcast along (the trailing ones): the value is computed
        # once outside their loops, which then only store it. Besides the work saved,
        # LLVM's loop vectorizer can take tens of seconds on a loop-invariant body of
        # inlined vmath calls (exp(tanh(log(a / b))) with a of shape (3, 1)).
        split = ndim
        while split > 0 and all(bcast[split - 1] for _, bcast in patterns):
            split -= 1
        if split < ndim:
            inner = "    " * (depth + split)
            body = [f"{inner}x{j} = a{j}[{loads[j]}]\n" for j in range(spec.n_arrays)]
            body += [f"{inner}{line}\n" for line in lines]
            body.append(f"{inner}r_ = {spec.result}\n")
            stores = [f"{'    ' * (depth + d)}for i{d} in "
                      f"{'prange' if parallel and d == 0 else 'range'}(out.shape[{d}]):\n"
                      for d in range(split, ndim)]
            return head[:split] + body + stores + [f"{pad}out[{index}] = r_\n"]
    body = [f"{pad}x{j} = a{j}[{loads[j]}]\n" for j in range(spec.n_arrays)]
    body += [f"{pad}{line}\n" for line in lines]
    body.append(f"{pad}out[{index}] = {spec.result}\n")
    return head + body


def _function_body(spec: GroupSpec, ndim: int, flat: bool, patterns=None,
                   parallel: bool = False) -> list[str]:
    variant = square_variant(spec.lines)
    if variant is None:
        return _loop_nest(spec, spec.lines, ndim, 1, flat, patterns, parallel)
    condition, fast_lines = variant
    return ([f"    if {condition}:\n"]
            + _loop_nest(spec, fast_lines, ndim, 2, flat, patterns, parallel)
            + ["    else:\n"] + _loop_nest(spec, spec.lines, ndim, 2, flat, patterns, parallel))


FLAT_CHUNK = 1 << 16  #: elements per task of a parallel flat loop
_parallel = parallel_decorator


def _params_and_types(spec: GroupSpec, ndim: int, layouts, inplace):
    """Parameter list and signature types: ``out`` first, or, for an in-place kernel,
    no ``out``: array input ``inplace`` is declared writable and stored into (the
    function body starts with ``out = a<inplace>``, one array, so LLVM sees the load
    and the store of an element at the same index and still vectorizes; a separate
    ``out`` aliasing an input would fail its run-time alias checks)."""
    arrays = [f"a{j}" for j in range(spec.n_arrays)]
    scalars = [f"s{j}" for j in range(spec.n_scalars)]
    types = [array_type(d, ndim, layout, j != inplace)
             for j, (d, layout) in enumerate(zip(spec.array_dtypes, layouts))]
    types += [numba_type(d) for d in spec.scalar_dtypes]
    if inplace is None:
        return ["out", *arrays, *scalars], [array_type(spec.out_dtype, ndim, "C"), *types]
    return [*arrays, *scalars], types


def flat_source(spec: GroupSpec, parallel: bool = False, inplace: int | None = None) -> str:
    """``flat(out, a0.., s0..)``: every input contiguous and of the output's shape
    (``inplace``: ``flat(a0.., s0..)`` storing into that input)."""
    params, types = _params_and_types(spec, 1, ["C"] * spec.n_arrays, inplace)
    sig = signed_decorator(*types)
    src = [PARALLEL_HEADER if parallel else HEADER, _parallel(sig) if parallel else sig,
           f"def flat({', '.join(params)}):\n"]
    if inplace is not None:
        src.append(f"    out = a{inplace}\n")
    src += _function_body(spec, 1, flat=True, parallel=parallel)
    return "".join(src)


def nd_source(spec: GroupSpec, ndim: int, patterns: tuple, parallel: bool = False,
              inplace: int | None = None) -> str:
    """``nd(out, a0.., s0..)``: inputs padded to the output's rank, each with its
    (layout, broadcast dims) pattern baked in; ``parallel``: prange over dim 0
    (``inplace``: no ``out``, stored into that input, which must be C and unbroadcast)."""
    params, types = _params_and_types(spec, ndim, [lay for lay, _ in patterns], inplace)
    sig = signed_decorator(*types)
    src = [PARALLEL_HEADER if parallel else HEADER, _parallel(sig) if parallel else sig,
           f"def nd({', '.join(params)}):\n"]
    if inplace is not None:
        src.append(f"    out = a{inplace}\n")
    if ndim == 0:
        src += [f"    x{j} = a{j}[()]\n" for j in range(spec.n_arrays)]
        src += [f"    {line}\n" for line in spec.lines]
        src += [f"    out[()] = {spec.result}\n"]
        return "".join(src)
    src += _function_body(spec, ndim, flat=False, patterns=patterns, parallel=parallel)
    return "".join(src)


def group_source(spec: GroupSpec, ndim: int) -> str:
    """Both loops of a group with plain (unbroadcast, any-layout) inputs."""
    patterns = tuple(("A", (False,) * ndim) for _ in spec.array_dtypes)
    return flat_source(spec) + "\n\n" + nd_source(spec, ndim, patterns).replace(HEADER, "")


class CompiledGroup:
    """A fused elementwise kernel, shared by every group of the same structure.
    Modules: ``('flat', parallel)`` and ``('nd', rank, patterns, parallel)``, each
    compiled on first use; large outputs use the prange twin (see ``kernels.parallelism``)."""

    def __init__(self, spec: GroupSpec, ndim: int | None, in_shapes=None):
        self.spec = spec
        self._modules: dict = {}
        self._static = {} if ndim is None or in_shapes is None else \
            {ndim: static_broadcast(in_shapes, ndim)}
        self._compute = compute_type(spec.out_dtype)
        # small calls with contiguous inputs of the output's shape skip the general
        # path (no input conversion needed unless an input is float16)
        self._fast_ok = "float16" not in spec.array_dtypes
        self._serial_flat = None

    def module(self, key):
        """Keys: ``('flat', parallel[, inplace])``, ``('nd', rank, patterns, parallel[,
        inplace])``."""
        found = self._modules.get(key)
        if found is None:
            if key[0] == "flat":
                source = flat_source(self.spec, key[1], *key[2:])
            else:
                source = nd_source(self.spec, key[1], key[2], key[3], *key[4:])
            found = self._modules[key] = cache.load(source)
        return found

    def can_write_into(self, j: int, out_shape: tuple, in_shape: tuple) -> bool:
        """Whether array input ``j`` (of concrete ``in_shape``) can hold the result:
        the output's full shape and dtype, no conversion on the way."""
        return (self._fast_ok and self._compute == self.spec.out_dtype and len(out_shape) > 0
                and self.spec.array_dtypes[j] == self.spec.out_dtype
                and tuple(in_shape) == tuple(out_shape))

    def bind_inplace(self, out_shape: tuple, in_shapes, scalars, j: int, layouts=None):
        """``run(*arrays) -> arrays[j]`` computing the group into input ``j``'s buffer
        (dead-buffer reuse: the caller knows nothing else holds it), or None when the
        shapes or dtypes do not allow it. An input ``j`` that is not a C-contiguous,
        writable array at run time takes the ordinary path instead."""
        out_shape = tuple(out_shape)
        if not self.can_write_into(j, out_shape, in_shapes[j]):
            return None
        ndim = len(out_shape)
        size = int(np.prod(out_shape, dtype=np.int64))
        flat = all(tuple(s) == out_shape for s in in_shapes) and \
            (layouts is None or "A" not in layouts)
        if flat:
            pads = [(-1,)] * len(in_shapes)

            def kernel(threads):
                return launch_loaders(threads, lambda: self.module(("flat", False, j)).flat,
                                      lambda: self.module(("flat", True, j)).flat)
        else:
            pads = padded_shapes(in_shapes, ndim)
            patterns = patterns_for_shapes(in_shapes, out_shape, self._static.get(ndim),
                                           layouts)

            def kernel(threads):
                return launch_loaders(
                    threads, lambda: self.module(("nd", ndim, patterns, False, j)).nd,
                    lambda: self.module(("nd", ndim, patterns, True, j)).nd)
        serial = kernel(1)  # compiled now, at prepare time, like the other launchers
        general = self.__call__

        def run(*arrays):
            target = arrays[j]
            if not (type(target) is np.ndarray and target.flags.c_contiguous and
                    target.flags.writeable):
                return general(out_shape, list(arrays), scalars)
            threads = threads_for(size, self.spec)
            fn = serial if threads == 1 else kernel(threads)
            try:
                fn(*[a.reshape(p) for a, p in zip(arrays, pads)], *scalars)
            except TypeError:  # an input of another dtype or layout
                return general(out_shape, list(arrays), scalars)
            return target
        return run

    def serial_flat(self, out_shape: tuple, in_shapes):
        """The serial flat kernel ``flat(out_1d, *inputs_1d, *scalars)`` (for 0-d shapes
        the 0-d loop ``nd(out, *inputs, *scalars)``) when a group of
        these concrete shapes may call it directly (small, every input of the output's
        shape, no dtype conversion), else None. The caller passes ``a.reshape(-1)`` of
        each input, which is contiguous whatever the input's layout; an input of
        another dtype or byte order matches none of the kernel's signatures (numba
        raises TypeError), and the caller then falls back to ``__call__``."""
        size = int(np.prod(out_shape, dtype=np.int64))
        if not (self._fast_ok and size < parallelism.PARALLEL_MIN
                and self._compute == self.spec.out_dtype
                and all(tuple(s) == tuple(out_shape) for s in in_shapes)):
            return None
        if len(out_shape) == 0:  # 0-d arrays in a 0-d loop: no reshapes at call time
            return self.module(("nd", 0, (("C", ()),) * self.spec.n_arrays, False)).nd
        if self._serial_flat is None:
            self._serial_flat = self.module(("flat", False)).flat
        return self._serial_flat

    def bind_nd(self, out_shape: tuple, in_shapes, scalars, layouts=None):
        """``run(*arrays) -> out`` calling the serial n-d loop chosen for these shapes
        (broadcast inputs, e.g. a bias), or None where the general path must decide
        (large outputs: the parallel twin; dtype conversions). Inputs are reshaped to
        the output's rank; ``layouts`` marks inputs that may be strided views ('A');
        an input that is not C-contiguous where 'C' was assumed, or not of the
        kernel's dtype, matches no signature (TypeError) and takes the general path."""
        out_shape = tuple(out_shape)
        ndim = len(out_shape)
        size = int(np.prod(out_shape, dtype=np.int64))
        if not (self._fast_ok and size < parallelism.PARALLEL_MIN
                and self._compute == self.spec.out_dtype):
            return None
        pads = padded_shapes(in_shapes, ndim)
        patterns = patterns_for_shapes(in_shapes, out_shape, self._static.get(ndim), layouts)
        nd = self.module(("nd", ndim, patterns, False)).nd
        dtype = np.dtype(self._compute)
        general = self.__call__

        def run(*arrays):
            out = np.empty(out_shape, dtype)
            try:
                nd(out, *[a.reshape(p) for a, p in zip(arrays, pads)], *scalars)
            except TypeError:
                return general(out_shape, list(arrays), scalars)
            return out
        return run

    def __call__(self, out_shape, arrays, scalars) -> np.ndarray:
        out_dtype = self.spec.out_dtype
        compute = self._compute
        out = np.empty(out_shape, dtype=compute)
        if self._fast_ok and out.size < parallelism.PARALLEL_MIN and compute == out_dtype and \
                all(a.shape == out.shape and a.flags.c_contiguous and a.dtype.isnative
                    for a in arrays):
            flat = self._serial_flat
            if flat is None:
                flat = self._serial_flat = self.module(("flat", False)).flat
            flat(out.reshape(-1), *[a.reshape(-1) for a in arrays], *scalars)
            return out
        arrays = [as_kernel_input(a) for a in arrays]
        threads = threads_for(out.size, self.spec) if out.ndim else 1
        if all(a.shape == out.shape and a.flags.c_contiguous for a in arrays):
            flat_in = [a.reshape(-1) for a in arrays]
            launch(threads, lambda: self.module(("flat", False)).flat,
                   lambda: self.module(("flat", True)).flat,
                   out.reshape(-1), *flat_in, *scalars)
        else:
            ndim = out.ndim
            padded = [a.reshape((1,) * (ndim - a.ndim) + a.shape) for a in arrays]
            patterns = input_patterns(padded, out.shape, self._static.get(ndim))
            launch(threads, lambda: self.module(("nd", ndim, patterns, False)).nd,
                   lambda: self.module(("nd", ndim, patterns, True)).nd,
                   out, *padded, *scalars)
        return out if compute == out_dtype else out.astype(out_dtype)
