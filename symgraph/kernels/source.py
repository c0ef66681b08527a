"""The text every generated kernel module starts from: its header, numba types and
``@njit`` signatures."""

from __future__ import annotations

import hashlib
import os

from ..core.dtypes import compute_type


def vmath_digest() -> str:
    """Hash of ``vmath``'s source: kernels inline its functions, so the generated
    source (the cache key) must change when it does, or numba's disk cache would
    serve machine code built from the old version."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vmath.py")
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:16]


HEADER = (f"# vmath {vmath_digest()}\n"
          "import math\nimport numpy as np\nfrom numba import njit\n"
          "from numba import types as _t\n"
          "from symgraph.kernels.cached_vmath import vmath\n\n")
PARALLEL_HEADER = HEADER.replace("from numba import njit", "from numba import njit, prange")


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


def parallel_decorator(decorator: str) -> str:
    return decorator.replace("nogil=True", "nogil=True, parallel=True")
