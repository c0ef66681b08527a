"""Generate one numba function per fused elementwise group, and run it.

A group is a set of elementwise nodes with a single root whose value is stored.
Its generated module has two loops over the same scalar body: ``flat`` (every
input contiguous and of the output's shape: one 1-D loop) and ``nd`` (inputs are
broadcast, transposed or strided views: nested loops over the output's dims).
Fills and 0-d constants are scalar *arguments*, never arrays and never baked into
the source, so graphs that differ only in constants share one compiled kernel.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

import numpy as np

from ..core import dtypes
from ..ops.elementwise import compute_type
from . import kernel_cache


def _vmath_digest() -> str:
    """Hash of ``vmath``'s source: kernels inline its functions, so the generated
    source (the cache key) must change when it does, or numba's disk cache would
    serve machine code built from the old version."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vmath.py")
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:16]


HEADER = (f"# vmath {_vmath_digest()}\n"
          "import math\nimport numpy as np\nfrom numba import njit\n"
          "from numba import types as _t\nfrom symgraph.compiler import vmath\n\n")


def numba_type(dtype: str) -> str:
    """Source text of the numba scalar type of a dtype."""
    return "_t.boolean" if dtype == "bool" else f"_t.{compute_type(dtype)}"


def array_type(dtype: str, ndim: int, layout: str, readonly: bool = False) -> str:
    ro = ", readonly=True" if readonly else ""
    return f"_t.Array({numba_type(dtype)}, {ndim}, '{layout}'{ro})"


def signed_decorator(*arg_types: str) -> str:
    """An ``@njit`` with an explicit signature. Arrays of any layout convert to the
    declared 'A' / read-only types, so layouts and flags never add compilations."""
    return (f"@njit(_t.void({', '.join(arg_types)}), cache=CACHE, nogil=True, "
            "error_model='numpy', fastmath=False)\n")


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
    for k, node in enumerate(members):
        args = [names[src.id] for src in node.inputs]
        expr = node.op.scalar(args, node.attrs, [src.dtype for src in node.inputs], node.dtype)
        ctype = dtypes.numpy_type_name(compute_type(node.dtype))
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


def _loop_nest(spec: GroupSpec, lines: list[str], ndim: int, depth: int, flat: bool) -> list[str]:
    """The loop over the output (flat: one loop; else one per dim) at indent ``depth``."""
    if flat:
        head, index = ["    " * depth + "for i in range(out.shape[0]):\n"], "i"
        pad = "    " * (depth + 1)
    else:
        head = ["    " * (depth + d) + f"for i{d} in range(out.shape[{d}]):\n"
                for d in range(ndim)]
        index, pad = ", ".join(f"i{d}" for d in range(ndim)), "    " * (depth + ndim)
    body = [f"{pad}x{j} = a{j}[{index}]\n" for j in range(spec.n_arrays)]
    body += [f"{pad}{line}\n" for line in lines]
    body.append(f"{pad}out[{index}] = {spec.result}\n")
    return head + body


def _function_body(spec: GroupSpec, ndim: int, flat: bool) -> list[str]:
    variant = square_variant(spec.lines)
    if variant is None:
        return _loop_nest(spec, spec.lines, ndim, 1, flat)
    condition, fast_lines = variant
    return ([f"    if {condition}:\n"] + _loop_nest(spec, fast_lines, ndim, 2, flat)
            + ["    else:\n"] + _loop_nest(spec, spec.lines, ndim, 2, flat))


def group_source(spec: GroupSpec, ndim: int) -> str:
    arrays = [f"a{j}" for j in range(spec.n_arrays)]
    scalars = [f"s{j}" for j in range(spec.n_scalars)]
    params = ", ".join(["out", *arrays, *scalars])
    scalar_types = [numba_type(d) for d in spec.scalar_dtypes]
    flat_sig = signed_decorator(array_type(spec.out_dtype, 1, "C"),
                                *[array_type(d, 1, "C", True) for d in spec.array_dtypes],
                                *scalar_types)
    nd_sig = signed_decorator(array_type(spec.out_dtype, ndim, "C"),
                              *[array_type(d, ndim, "A", True) for d in spec.array_dtypes],
                              *scalar_types)
    src = [HEADER, flat_sig, f"def flat({params}):\n"]
    src += _function_body(spec, 1, flat=True)
    src += ["\n\n", nd_sig, f"def nd({params}):\n"]
    if ndim == 0:
        src += [f"    x{j} = a{j}[()]\n" for j in range(spec.n_arrays)]
        src += [f"    {line}\n" for line in spec.lines]
        src += [f"    out[()] = {spec.result}\n"]
        return "".join(src)
    src += _function_body(spec, ndim, flat=False)
    return "".join(src)


def as_kernel_input(a: np.ndarray) -> np.ndarray:
    """An array numba kernels can read: float16 widened to float32, native byte order.
    (Writable and read-only arrays both match the read-only signatures.)"""
    if a.dtype == np.float16:
        return a.astype(np.float32)
    if not a.dtype.isnative:
        return a.astype(a.dtype.newbyteorder("="))
    return a


class CompiledGroup:
    """A fused elementwise kernel, shared by every group of the same structure."""

    def __init__(self, spec: GroupSpec, ndim: int | None):
        self.spec = spec
        self._modules: dict = {}
        if ndim is not None:  # load now; an unknown rank loads on first call
            self.module(ndim)

    def module(self, ndim: int):
        found = self._modules.get(ndim)
        if found is None:
            found = self._modules[ndim] = kernel_cache.load(group_source(self.spec, ndim))
        return found

    def __call__(self, out_shape, arrays, scalars) -> np.ndarray:
        out_dtype = self.spec.out_dtype
        compute = compute_type(out_dtype)
        out = np.empty(out_shape, dtype=compute)
        arrays = [as_kernel_input(a) for a in arrays]
        module = self.module(len(out_shape))
        if all(a.shape == out.shape and a.flags.c_contiguous for a in arrays):
            flat_in = [a.reshape(-1) for a in arrays]
            module.flat(out.reshape(-1), *flat_in, *scalars)
        else:
            views = [np.broadcast_to(a, out.shape) for a in arrays]
            module.nd(out, *views, *scalars)
        return out if compute == out_dtype else out.astype(out_dtype)


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
    module = kernel_cache.load(copy_source(out.ndim, out.dtype.name))
    module.copy(out, np.broadcast_to(src, out.shape))


def contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` itself if C-contiguous, else a contiguous copy made by a numba kernel."""
    if a.flags.c_contiguous:
        return a
    out = np.empty(a.shape, dtype=a.dtype)
    copy_into(out, a)
    return out
