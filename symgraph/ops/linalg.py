"""Matrix products. ``matmul`` is the one primitive: NumPy ``dot`` semantics for
operands of rank 1 and 2, and a batched product for two rank-3 operands. It calls
BLAS (through NumPy) for float32/float64; Keras's ``dot`` and ``batch_dot`` are
compositions of it with reshapes and transposes."""

from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.tensor import Tensor
from .leaves import as_tensor
from .registry import KERNEL, Op, define_grad, register


def _matmul_infer(in_shapes, in_dtypes, attrs):
    a, b = in_shapes
    if a is None or b is None:
        raise ValueError("matmul needs operands of known rank")
    dtype = dtypes.result_type(*in_dtypes)
    if dtype == "bool":
        raise TypeError("matmul is not defined for bool tensors")
    if len(a) == 3 and len(b) == 3:
        if a[0] is not None and b[0] is not None and a[0] != b[0]:
            raise ValueError(f"batch sizes differ: {a[0]} vs {b[0]}")
        _check_inner(a[2], b[1])
        return (a[0] if a[0] is not None else b[0], a[1], b[2]), dtype
    if not (1 <= len(a) <= 2 and 1 <= len(b) <= 2):
        raise ValueError("matmul takes operands of rank 1 or 2, or two of rank 3")
    _check_inner(a[-1], b[0])
    return tuple(a[:-1]) + tuple(b[1:]), dtype


def _check_inner(k1, k2):
    if k1 is not None and k2 is not None and k1 != k2:
        raise ValueError(f"contracted dimensions differ: {k1} vs {k2}")


def _matmul_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    a, b = args
    a = a.astype(out_dtype, copy=False)
    b = b.astype(out_dtype, copy=False)
    if a.ndim == 3:
        return np.matmul(a, b)
    return np.asarray(np.dot(a, b))


MATMUL = register(Op(
    "matmul", KERNEL, _matmul_infer,
    lambda arrays, attrs, out_shape, out_dtype: np.asarray(
        np.matmul(*arrays) if arrays[0].ndim == 3 else np.dot(*arrays)).astype(out_dtype),
    kernel=_matmul_kernel, extra={"fresh_output": True, "tier0": "kernel"},
    doc="matrix product (BLAS): rank 1/2 operands as numpy.dot, or batched rank 3"))


def matmul(a, b) -> Tensor:
    a = as_tensor(a, like=b if isinstance(b, Tensor) else None)
    b = as_tensor(b, like=a)
    return a.graph.make(MATMUL, (a, b))


# -- gradient rule -------------------------------------------------------------------------------
def _matmul_grad(node, g):
    from .shape import reshape, transpose

    a, b = node.inputs
    ra, rb = len(a.shape), len(b.shape)
    if ra == 3:
        return matmul(g, transpose(b, (0, 2, 1))), matmul(transpose(a, (0, 2, 1)), g)
    if ra == 2 and rb == 2:
        return matmul(g, transpose(b)), matmul(transpose(a), g)
    if ra == 1 and rb == 1:  # inner product: g is a scalar
        return g * b, g * a
    if ra == 1:  # (k,) @ (k, n) -> (n,)
        return matmul(b, g), matmul(reshape(a, (-1, 1)), reshape(g, (1, -1)))
    # (m, k) @ (k,) -> (m,)
    return matmul(reshape(g, (-1, 1)), reshape(b, (1, -1))), matmul(transpose(a), g)


define_grad(MATMUL, _matmul_grad)
