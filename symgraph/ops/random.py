"""Random tensors from a counter-based generator.

Every element is a pure function of (seed, evaluation count, element index): a
splitmix64 hash, so results never depend on thread count or evaluation order, and
the same seed gives the same numbers in every process. Each evaluation of a random
node draws fresh numbers (its evaluation count goes up), as TF re-samples per run.
"""

from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.graph import get_default_graph
from ..core.shapes import check_size, is_fully_known, normalize_shape
from ..kernels import cache
from .registry import KERNEL, NOT_DIFFERENTIABLE, Op, register
from .shape_defs import resolve_target

DISTRIBUTIONS = ("uniform", "normal", "truncated_normal", "binomial")

_SOURCE = '''import math
import numpy as np
from numba import njit

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=CACHE, nogil=True)
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=CACHE, nogil=True)
def _unit(base, i):
    # uniform in [0, 1) from the top 53 bits
    return np.float64(_mix(base + np.uint64(i) * _GOLDEN) >> np.uint64(11)) * (2.0 ** -53)


@njit(cache=CACHE, nogil=True)
def _gauss(base, i):
    u1 = _unit(base, 2 * i)
    u2 = _unit(base, 2 * i + 1)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


@njit('void(float64[::1], int64, int64, int64, float64, float64)', cache=CACHE, nogil=True,
      error_model='numpy')
def draw(out, seed, counter, dist, a, b):
    base = _mix(np.uint64(seed) * _GOLDEN + _mix(np.uint64(counter) + np.uint64(1)))
    n = out.shape[0]
    for i in range(n):
        if dist == 0:
            out[i] = a + (b - a) * _unit(base, i)
        elif dist == 1:
            out[i] = a + b * _gauss(base, i)
        elif dist == 2:
            j = 0
            z = _gauss(base, i)
            while abs(z) > 2.0:
                j += 1
                z = _gauss(base, i + n * j)
            out[i] = a + b * z
        else:
            out[i] = 1.0 if _unit(base, i) < a else 0.0
'''


def _infer(in_shapes, in_dtypes, attrs):
    if "target" in attrs:  # dims taken from another tensor's (run-time) shape
        return tuple(resolve_target(attrs["target"], in_shapes)), attrs["dtype"]
    return attrs["shape"], attrs["dtype"]


def _draw(attrs, out_shape, out_dtype, counter):
    module = cache.load(_SOURCE)
    flat = np.empty(int(np.prod(out_shape, dtype=object)), dtype=np.float64)
    module.draw(flat, attrs["seed"], counter, DISTRIBUTIONS.index(attrs["dist"]),
                float(attrs["a"]), float(attrs["b"]))
    low, high = attrs["a"], attrs["b"]
    if attrs["dist"] == "uniform" and high > low:
        if np.dtype(out_dtype).kind in "iu":
            np.floor(flat, out=flat)  # [low, high) -> integers, not truncated toward 0
        out = flat.reshape(out_shape).astype(out_dtype)
        if out.dtype.kind == "f":  # rounding to a narrow float must not reach maxval
            top = np.nextafter(out.dtype.type(high), out.dtype.type(low))
            np.minimum(out, top, out=out)
        return out
    return flat.reshape(out_shape).astype(out_dtype)


def _kernel(args, in_shapes, attrs, out_shape, out_dtype):
    return _draw(attrs, out_shape, out_dtype, attrs["counter"])


RANDOM = register(Op(
    "random", KERNEL, _infer,
    lambda arrays, attrs, out_shape, out_dtype: _draw(attrs, out_shape, out_dtype,
                                                      attrs["counter"]),
    kernel=_kernel, grad=NOT_DIFFERENTIABLE, data_inputs=(),
    doc="counter-based random draws (uniform, normal, truncated normal, binomial)",
    extra={"stateful": True}))


def draw_seed(seed) -> int:
    """An explicit seed, or one drawn from NumPy's global RNG at build time (so
    ``np.random.seed`` makes graph construction reproducible)."""
    if seed is None:
        return int(np.random.randint(0, 2**31 - 1))
    return int(seed) % 2**63


def random(dist: str, shape, a: float, b: float, dtype, seed, like=None):
    """Build a random node of a fully known ``shape``, or, with ``like`` (a tensor or a
    tuple of tensors), of a shape whose entries are ints or dim entries (``ops.dims``)
    over ``like``'s dims, known at run time."""
    if like is not None:
        sources = like if isinstance(like, tuple) else (like,)
        graph = sources[0].graph
        attrs = {"dist": dist, "target": tuple(shape), "dtype": dtypes.normalize(dtype),
                 "a": float(a), "b": float(b), "seed": draw_seed(seed),
                 "instance": len(graph.nodes)}
        return graph.make(RANDOM, sources, attrs)
    shape = normalize_shape(shape)
    if not is_fully_known(shape):
        raise ValueError(f"random_{dist}: the shape must be fully known, got {shape}")
    check_size(shape)
    dtype = dtypes.normalize(dtype)
    graph = get_default_graph()
    # "instance" keeps every call a node of its own (no hash-consing): two calls with
    # the same seed give the same numbers on their k-th evaluations, as two TF ops do,
    # instead of sharing one evaluation counter.
    attrs = {"dist": dist, "shape": shape, "dtype": dtype, "a": float(a), "b": float(b),
             "seed": draw_seed(seed), "instance": len(graph.nodes)}
    return graph.make(RANDOM, (), attrs)
